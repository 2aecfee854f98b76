#!/usr/bin/env bash
# Create .venv and install MedConsult into it. torch is pinned and installed first so that
# nothing pulls a multi-GB CUDA build; pass "dev" to add the test and lint tools.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION="${MEDCONSULT_TORCH_VERSION:-2.13.0}"
PYTHON="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  .venv/bin/python -m pip install --quiet "torch==${TORCH_VERSION}"
fi
if [ "${1:-}" = "dev" ]; then
  .venv/bin/python -m pip install --quiet -e ".[dev]"
else
  .venv/bin/python -m pip install --quiet -e .
fi
