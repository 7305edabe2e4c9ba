"""Consumer pools, the auto-scaler and cluster-wide worker locks."""
