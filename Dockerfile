# oO app image: Python deps from requirements.lock, bun from the npm registry (never Reflex's download),
# the frontend built at image build time, and a non-root runtime user.
FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=false \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm unzip && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.lock pyproject.toml ./
# The CPU build of torch comes from PyTorch's CPU index inside the image; elsewhere the lock's +cpu pin is local.
RUN python -m venv /opt/venv && pip install --no-cache-dir uv && \
    uv pip install --no-cache --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.lock
RUN npm install --prefix /opt/tools --no-audit --no-fund bun@1.4.5
ENV REFLEX_BUN_PATH=/opt/tools/node_modules/bun/bin/bun.exe
COPY . .
RUN uv pip install --no-cache --no-deps -e . && reflex export --frontend-only --no-zip

FROM python:3.11-slim AS runtime
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    REFLEX_TELEMETRY_ENABLED=false \
    REFLEX_CHECK_LATEST_VERSION=false \
    REFLEX_BUN_PATH=/opt/tools/node_modules/bun/bin/bun.exe \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1
RUN apt-get update && apt-get install -y --no-install-recommends nodejs && rm -rf /var/lib/apt/lists/* && \
    useradd --create-home --uid 10001 oo
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/tools /opt/tools
COPY --from=build --chown=oo:oo /app /app
WORKDIR /app
USER oo
EXPOSE 3000
CMD ["sh", "-c", "oo migrate && exec reflex run --env prod --single-port --frontend-port 3000 --backend-port 3000 --backend-host 0.0.0.0"]
