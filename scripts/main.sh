#!/usr/bin/env bash
# Set up (if needed) and run the main job: rewrite sentences with the bundled Yelp model, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
if [ "$#" -eq 0 ]; then
  set -- "The food was cold and the waiter was rude." "I love this place, the staff is always friendly!"
fi
exec .venv/bin/python -m textcycle.rewrite "$@"
