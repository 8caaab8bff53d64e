#!/usr/bin/env bash
# Set up (if needed) and run the test suite offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export HF_HOME="${HF_HOME:-$(mktemp -d)}"
exec .venv/bin/python -m pytest -q "$@"
