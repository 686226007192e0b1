#!/usr/bin/env bash
# Install the suite and its dependencies, then record the interpreter that bin/python runs.
#
# Where it installs (one line says which it chose):
#   - an active virtual environment or conda environment: there;
#   - an interpreter that is not externally managed (pyenv, a python.org build): there;
#   - an externally managed one (PEP 668: Debian 12+, Ubuntu 23.04+ system python3): into
#     .venv/ in this folder, made with `python3 -m venv`.
# The interpreter is $PYTHON, else python3. torch is kept if installed; otherwise a normal
# (CUDA) build where an NVIDIA GPU is present, else torch==2.13.0, which on the reference CPU
# machines is a CPU wheel on disk (an unpinned torch would pull a multi-GB CUDA build there).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "setup: error: no interpreter '$PY' (install Python 3.11+ or set PYTHON=/path/to/python3)" >&2
  exit 2
fi
# Which situation: prints "venv", "conda", "managed" or "plain".
situation=$("$PY" - <<'EOF'
import os, sys, sysconfig
if sys.prefix != sys.base_prefix:
    print("venv")
elif os.environ.get("CONDA_PREFIX") and os.path.samefile(os.environ["CONDA_PREFIX"], sys.prefix):
    print("conda")
elif os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")):
    print("managed")
else:
    print("plain")
EOF
)
case "$situation" in
  venv)  echo "setup: installing into the active virtual environment ($("$PY" -c 'import sys; print(sys.prefix)'))" ;;
  conda) echo "setup: installing into the active conda environment ($CONDA_PREFIX)" ;;
  plain) echo "setup: installing into $("$PY" -c 'import sys; print(sys.executable)') (not externally managed)" ;;
  managed)
    if [ ! -x .venv/bin/python ]; then
      if ! "$PY" -c "import venv, ensurepip" 2>/dev/null; then
        ver=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
        echo "setup: error: $PY is externally managed (PEP 668) and has no venv module: install it (Debian/Ubuntu: apt install python${ver}-venv) and rerun" >&2
        exit 2
      fi
      "$PY" -m venv .venv
    fi
    echo "setup: $(command -v "$PY") is externally managed (PEP 668): installing into .venv/ in this folder"
    PY=.venv/bin/python
    ;;
esac
PY=$("$PY" -c 'import sys; print(sys.executable)')
if ! "$PY" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    "$PY" -m pip install -q torch
  else
    "$PY" -m pip install -q torch==2.13.0
  fi
fi
"$PY" -m pip install -q -e ".[dev]"
echo "$PY" > .python-path  # what bin/python runs
echo "setup: done; run the suite with bin/python (= $PY)"
