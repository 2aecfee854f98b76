#!/usr/bin/env bash
# Install (with the dev tools) and run the whole test suite, slow and browser tests included.
# Uses MEDCONSULT_TEST_DATABASE_URL when set, else starts an embedded PostgreSQL.
#   scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install.sh dev
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
