"""Default locations: the bundled evaluation models and the shared Yelp data folder."""

from __future__ import annotations

from pathlib import Path

PRETRAINED = Path(__file__).resolve().parents[1] / "pretrained" / "yelp-eval"
DEFAULT_CLASSIFIER = PRETRAINED / "classifier"
DEFAULT_LM = PRETRAINED / "lm"
DEFAULT_DATA = "../shared/data/yelp"
