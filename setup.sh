#!/usr/bin/env bash
# Install the suite and its dependencies into the current Python environment.
# torch: kept if already installed; otherwise a normal (CUDA) build where an NVIDIA GPU is
# present, else torch==2.13.0, which on the reference CPU machines is a CPU wheel on disk
# (an unpinned torch would pull a multi-GB CUDA build there).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    "$PY" -m pip install -q torch
  else
    "$PY" -m pip install -q torch==2.13.0
  fi
fi
"$PY" -m pip install -q -e ".[dev]"
