# Stem-JEPA retrieval service image. Two targets, one set of install steps (scripts/setup.sh, as CI runs it):
#   docker build --target cpu  -t stemjepa:cpu  .   API (and CPU indexing): the CPU build of torch
#   docker build --target cuda -t stemjepa:cuda .   GPU index worker / API: torch's default (CUDA) wheel; run with
#                                                    the NVIDIA container runtime (docker compose reserves the GPU)
# torch's CUDA wheels carry their CUDA libraries, so both targets start from the same Debian base; the
# host's NVIDIA driver comes in through the container runtime.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VENV=/opt/venv \
    EXTRAS=postgres \
    PATH=/opt/venv/bin:$PATH \
    STEMJEPA_HOST=0.0.0.0 \
    STEMJEPA_PORT=8000 \
    STEMJEPA_INDEX_DIR=/data/index \
    STEMJEPA_CACHE_DIR=/data/cache
WORKDIR /app
COPY . /app

FROM base AS cpu
# The set-up script installs the system packages, the CPU torch wheel, then the project with EXTRAS.
RUN ./scripts/setup.sh && rm -rf /var/lib/apt/lists/* /root/.cache
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["stemjepa", "serve"]

FROM base AS cuda
# torch first (its default wheel is the CUDA build); the set-up script then finds the pinned version present
# and keeps it, installing everything else exactly as for the CPU target.
ARG TORCH_VERSION=2.13.0
RUN python -m venv "$VENV" && "$VENV/bin/pip" install -q "torch==${TORCH_VERSION}" \
    && TORCH_VERSION=${TORCH_VERSION} ./scripts/setup.sh && rm -rf /var/lib/apt/lists/* /root/.cache
ENV NVIDIA_VISIBLE_DEVICES=all NVIDIA_DRIVER_CAPABILITIES=compute,utility STEMJEPA_DEVICE=cuda
EXPOSE 8000
CMD ["stemjepa", "index-worker"]
