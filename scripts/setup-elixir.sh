#!/usr/bin/env bash
# Make the real Elixir HareMq 1.5.0 runnable here for the interop tests (tests/interop/):
# install Debian's Elixir when it is missing, then build HareMq from ../shared/elixir-haremq
# (next to the repository) into build/elixir-haremq (ignored by git). Idempotent: a build whose
# sources have not changed is reused. The last line printed is the build directory.
#
#   bash scripts/setup-elixir.sh        # exit 3 = Elixir is missing and cannot be installed,
#                                       # exit 4 = no HareMq sources (the interop tests skip)
#
# Environment: HARE_ELIXIR_BUILD_DIR (where to build), HARE_ELIXIR_HAREMQ_DIR (the HareMq sources;
# default: the `shared/elixir-haremq` folder next to the repository).
set -euo pipefail

log() { printf '[setup-elixir] %s\n' "$*" >&2; }

REPO="$(cd "$(dirname "$0")/.." && pwd)"
HAREMQ_DIR="${HARE_ELIXIR_HAREMQ_DIR:-$(dirname "$0")/../../shared/elixir-haremq}"
BUILD_DIR="${HARE_ELIXIR_BUILD_DIR:-$REPO/build/elixir-haremq}"
CANNOT_INSTALL=3
NO_SOURCES=4

if [[ ! -f "$HAREMQ_DIR/build.sh" ]]; then
    log "no HareMq sources: the Elixir side-by-side tests are skipped (set HARE_ELIXIR_HAREMQ_DIR to the HareMq sources to run them)"
    exit "$NO_SOURCES"
fi
HAREMQ_DIR="$(cd "$HAREMQ_DIR" && pwd)"

if ! command -v elixirc >/dev/null 2>&1; then
    if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        log "elixir is missing and cannot be installed here (needs root and apt-get)"
        exit "$CANNOT_INSTALL"
    fi
    log "apt-get update"
    if ! apt-get update -qq >/dev/null; then
        log "apt-get update failed: elixir cannot be installed"
        exit "$CANNOT_INSTALL"
    fi
    log "installing elixir (Debian package; this can take a few minutes)"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        elixir >/dev/null; then
        log "apt-get install elixir failed"
        exit "$CANNOT_INSTALL"
    fi
fi
log "elixir: $(elixir --version 2>/dev/null | tail -1)"

up_to_date() {  # every library built from the current sources, and the code-path flags written
    local lib
    [[ -f "$BUILD_DIR/pa_flags" ]] || return 1
    for lib in telemetry jason amqp hare_mq; do
        [[ -f "$BUILD_DIR/lib/$lib/ebin/.rev" ]] || return 1
        [[ "$(cat "$BUILD_DIR/lib/$lib/ebin/.rev")" == "$(cat "$HAREMQ_DIR/src/$lib/.rev")" ]] || return 1
    done
    for dir in $(grep -v '^-pa$' "$BUILD_DIR/pa_flags" | sed 's/^-pa //'); do
        [[ -d "$dir" ]] || return 1
    done
}

if up_to_date; then
    log "HareMq already built"
else
    log "building HareMq from $HAREMQ_DIR"
    mkdir -p "$BUILD_DIR"
    BUILD_DIR="$BUILD_DIR" bash "$HAREMQ_DIR/build.sh" >&2
fi
log "HareMq build: $BUILD_DIR (code path flags in $BUILD_DIR/pa_flags)"
echo "$BUILD_DIR"
