# Shared by scripts/pythons.sh, scripts/wheel.sh and scripts/ranges.sh (sourced, not run):
# finding each supported CPython, and uv (from PyPI) to make venvs fast.

log() { printf '[%s] %s\n' "$(basename "$0" .sh)" "$*" >&2; }

interpreter() {  # the newest installed CPython $1 (e.g. 3.12), or nothing
    local version="$1" found=""
    if command -v pyenv >/dev/null 2>&1; then
        found="$(ls -d "$(pyenv root)/versions/$version".*/bin/python 2>/dev/null | sort -V | tail -1)"
    fi
    if [[ -z "$found" ]] && command -v "python$version" >/dev/null 2>&1; then
        found="$(command -v "python$version")"
    fi
    echo "$found"
}

missing() {  # CPython $1 is not installed: an error in CI, a one-line skip elsewhere
    if [[ "${CI:-}" == "true" ]]; then
        log "CPython $1 is not installed (pyenv install $1)"
        exit 1
    fi
    log "CPython $1 is not installed: skipped (pyenv install $1 to run it)"
}

uv_bin() {  # uv in the main venv (bash scripts/venv.sh makes it)
    if [[ ! -x .venv/bin/uv ]]; then
        .venv/bin/python -m pip install -q uv >/dev/null
    fi
    echo "$PWD/.venv/bin/uv"
}
export UV_PYTHON_DOWNLOADS=never  # only the interpreters installed here
