#!/usr/bin/env bash
# Create .venv and install MedConsult into it. torch is pinned and installed first so that
# nothing pulls a multi-GB CUDA build; pass "dev" to add the test and lint tools.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION="${MEDCONSULT_TORCH_VERSION:-2.13.0}"
PYTHON="${PYTHON:-python3}"

# Chinese printable reports need a CJK font: Debian's fonts-noto-cjk, installed here where the
# machine allows it (the app never downloads fonts at run time; without it a report still prints,
# and the log says that Chinese characters are missing).
if [ ! -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] && command -v apt-get >/dev/null; then
  apt_get=()
  if [ "$(id -u)" = 0 ]; then
    apt_get=(env DEBIAN_FRONTEND=noninteractive apt-get)
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    apt_get=(sudo -n env DEBIAN_FRONTEND=noninteractive apt-get)
  fi
  if [ ${#apt_get[@]} -gt 0 ]; then
    { "${apt_get[@]}" update -qq && "${apt_get[@]}" install -y -qq fonts-noto-cjk; } \
      || echo "warning: could not install fonts-noto-cjk; Chinese reports will lack CJK glyphs" >&2
  else
    echo "note: install Debian's fonts-noto-cjk for Chinese text in printable reports" >&2
  fi
fi

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
