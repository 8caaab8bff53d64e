#!/usr/bin/env bash
# Create .venv (if missing) and install textcycle with its dependencies.
# torch is pinned to 2.13.0 first (a CPU build here), and kept pinned by constraints.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import textcycle, torch, transformers, sacrebleu, pytest" 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -c constraints.txt -e ".[test]"
fi
