#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian machine: system packages, a virtual
# environment, the CPU build of torch (before the project, so pip never pulls CUDA wheels), then the
# project with its extras. Safe to run again: each step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
APT_PACKAGES=(
    libsndfile1 ffmpeg
    fluidsynth fluid-soundfont-gm musescore-general-soundfont timgm6mb-soundfont avldrums.lv2-soundfont
    freedoom openttd-openmsx planetblupi-music-midi mma
    chromium chromium-driver docker-compose rubberband-cli
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing system packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
fi
# The installed torch's version from its metadata: importing torch itself would take seconds.
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('torch').startswith('$TORCH_VERSION') else 1)" 2>/dev/null; then
    # The CPU wheel: a local file on machines of this kind, else PyTorch's CPU index.
    wheel=$(ls /opt/wheels/torch-"$TORCH_VERSION"*cpu*.whl 2>/dev/null | head -n 1 || true)
    if [ -n "$wheel" ]; then
        "$VENV/bin/pip" install -q "$wheel"
    else
        "$VENV/bin/pip" install -q "torch==$TORCH_VERSION" --index-url https://download.pytorch.org/whl/cpu \
            || "$VENV/bin/pip" install -q "torch==$TORCH_VERSION"
    fi
fi
# The editable install is redone only when pyproject.toml or the extras change (a restart of `make demo`
# otherwise spent most of its time here).
stamp="$VENV/.stemjepa-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1) ${EXTRAS:-dev}"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$VENV/bin/python" -c "import stemjepa" 2>/dev/null; then
    "$VENV/bin/pip" install -q -e ".[${EXTRAS:-dev}]"
    echo "$want" > "$stamp"
fi
echo "setup: ready ($("$VENV/bin/python" -c 'import importlib.metadata as m; print("torch", m.version("torch"))'))"
