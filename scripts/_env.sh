# Sourced by scripts/dev and scripts/test: installs what is missing and sets the offline environment.
# Idempotent and quiet when everything is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
BUN_VERSION="1.4.5"
AXE_VERSION="4.14.1"  # axe-core, the accessibility audit the browser tests inject into the pages
# Where ensure_bun installs bun; set here so that export_env works without ensure_bun (benchmarks, offline use).
BUN="$ROOT/.tools/node_modules/bun/bin/bun.exe"
LOCK="$ROOT/requirements.lock"
# The CPU build of torch lies on this machine kind's disk; the index only has CUDA builds of several GB.
WHEELS="${OO_WHEELS_DIR:-/opt/wheels}"

log() { printf '\033[2m[oO] %s\033[0m\n' "$*" >&2; }

ensure_python() {
    local python=""
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            python="$candidate"
            break
        fi
    done
    [ -n "$python" ] || { echo "oO needs Python >= 3.11 on PATH" >&2; exit 1; }
    if [ ! -x "$VENV/bin/python" ]; then
        log "creating $VENV"
        "$python" -m venv "$VENV"
    fi
    if [ ! -x "$VENV/bin/uv" ]; then
        log "installing uv"
        "$VENV/bin/python" -m pip install --quiet uv
    fi
    # Re-sync only when the lock, the project or these options changed since the last install. --compile-bytecode:
    # the packages' modules are compiled once, here, rather than in every process that imports them wherever Python
    # may not write its caches (PYTHONDONTWRITEBYTECODE, a read-only environment): `import oo_app.oo_app` took 3.8 s
    # of CPU from source, 1.9 s compiled (docs/adr/0020-compiled-once.md).
    local options=(--compile-bytecode)
    local stamp="$VENV/.oo-installed"
    local wanted
    wanted="$( (cat "$LOCK" "$ROOT/pyproject.toml"; echo "${options[*]}") | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
        log "installing Python packages from requirements.lock"
        # llama-cpp-python builds from source: portable CPU flags, no AMX (it segfaults in these VMs).
        export CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF"
        local find_links=()
        [ -d "$WHEELS" ] && find_links=(--find-links "$WHEELS")
        "$VENV/bin/uv" pip sync --quiet --python "$VENV/bin/python" "${options[@]}" "${find_links[@]}" "$LOCK"
        "$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" --no-deps -e "$ROOT"
        echo "$wanted" >"$stamp"
    fi
}

ensure_bun() {
    # Reflex would download bun from a website; take it from the npm registry instead.
    if [ ! -x "$BUN" ] || [ "$("$BUN" --version 2>/dev/null)" != "$BUN_VERSION" ]; then
        command -v npm >/dev/null 2>&1 || { echo "oO needs Node.js and npm (for bun) on PATH" >&2; exit 1; }
        log "installing bun $BUN_VERSION from the npm registry"
        mkdir -p "$ROOT/.tools"
        npm install --prefix "$ROOT/.tools" --no-audit --no-fund --silent "bun@$BUN_VERSION" >&2
    fi
}

ensure_axe() {
    AXE_JS="$ROOT/.tools/node_modules/axe-core/axe.min.js"
    if [ ! -f "$AXE_JS" ] || ! grep -q "\"version\": \"$AXE_VERSION\"" "$ROOT/.tools/node_modules/axe-core/package.json"; then
        log "installing axe-core $AXE_VERSION from the npm registry"
        mkdir -p "$ROOT/.tools"
        npm install --prefix "$ROOT/.tools" --no-audit --no-fund --silent "axe-core@$AXE_VERSION" >&2
    fi
    export OO_AXE_JS="$AXE_JS"
}

ensure_chromium() {
    [ -x /usr/bin/chromium ] && return 0
    log "installing Debian's chromium for the browser tests"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >&2
}

export_env() {
    export PATH="$VENV/bin:$PATH"
    export REFLEX_BUN_PATH="$BUN"
    export REFLEX_DIR="$ROOT/.reflex-home"
    export REFLEX_TELEMETRY_ENABLED=false
    export REFLEX_CHECK_LATEST_VERSION=false
    NPM_CONFIG_REGISTRY="${NPM_CONFIG_REGISTRY:-$(npm config get registry 2>/dev/null || echo https://registry.npmjs.org/)}"
    export NPM_CONFIG_REGISTRY
    export LITELLM_LOCAL_MODEL_COST_MAP=True
    export LITELLM_TELEMETRY=False
    export MLFLOW_DISABLE_TELEMETRY=true
    export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
    export DO_NOT_TRACK=1
    export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
    # oO's own modules and the tests compile once and are cached beside them (__pycache__/, ignored by git), not in
    # each of the many processes the app and the suite start: a pytest process's collection took 15 s of CPU with
    # them compiled each time, 9.5 s cached.
    unset PYTHONDONTWRITEBYTECODE
}
