#!/usr/bin/env bash
# Install Debian's Chromium for the console's browser tests (tests/browser/) and the docs
# screenshots. Playwright's own browser download is not used: it needs network access to a CDN.
# Idempotent: does nothing when /usr/bin/chromium is already there. Needs root for apt-get.
set -euo pipefail

log() { printf '[setup-browser] %s\n' "$*"; }

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
    log "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    log "installing chromium needs root: run this script with sudo"
    exit 1
fi

log "apt-get update"
apt-get update -qq
log "installing chromium (this can take a few minutes)"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
log "installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
