#!/usr/bin/env bash
# Install and run MedConsult: virtual environment, dependencies (torch first, CPU build),
# embedded PostgreSQL unless MEDCONSULT_DATABASE_URL is set, migrations, first admin,
# default model (trained on first run), then the web server with its analysis worker.
#   scripts/run.sh [--demo] [--host H] [--port P]
set -euo pipefail
cd "$(dirname "$0")/.."

demo=()
serve_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --demo) demo=(--demo) ;;
    *) serve_args+=("$1") ;;
  esac
  shift
done

scripts/install.sh
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
.venv/bin/medconsult bootstrap "${demo[@]}"
exec .venv/bin/medconsult serve --no-migrate "${serve_args[@]}"
