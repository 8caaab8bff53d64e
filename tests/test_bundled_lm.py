"""The default Yelp model, the LM generators shipped as an adapter: small, offline from the pinned
wheel, faithful to numbers and names on the probe, and really changing sentiment."""

import json
from pathlib import Path

import pytest
from conftest import rewrite_offline

from textcycle.evaluate.faithful import check, read_probe, summary
from textcycle.model_folder import PACKAGE_MODELS, resolve

REPO = Path(__file__).resolve().parents[1]
BUNDLED = PACKAGE_MODELS / "yelp-lm"
PROBE = REPO / "tests" / "data" / "faithful-en.tsv"

pytestmark = pytest.mark.skipif(not (BUNDLED / "config.json").is_file(), reason="no bundled LM model")


@pytest.fixture(scope="module")
def rw():
    from textcycle.rewrite import Rewriter

    return Rewriter.from_pretrained("yelp")  # the first use builds its fast copy into the cache


def test_it_is_the_default_and_only_what_is_ours_ships():
    assert resolve("yelp") == resolve("default") == resolve("yelp-lm") == BUNDLED
    files = sorted(str(p.relative_to(BUNDLED)) for p in BUNDLED.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "adapter/adapter_config.json",
        "adapter/adapter_model.safetensors",
        "config.json",
        "discriminator.safetensors",
        "tokenizer.model",
    ]
    assert sum(p.stat().st_size for p in BUNDLED.rglob("*") if p.is_file()) <= 48 * 2**20
    config = json.loads((BUNDLED / "config.json").read_text())
    assert config["model_type"] == "textcycle-lm" and config["base"] == "smollm2-135m"
    card = (BUNDLED / "README.md").read_text()
    for part in ("SmolLM2-135M-Instruct", "## Training", "## Scores", "## Cased sentences with numbers and names"):
        assert part in card, part


def test_main_command_keeps_numbers_and_names():
    r = rewrite_offline("We waited 45 minutes for our food at Joe's Diner.")
    assert r.returncode == 0, r.stderr
    (out,) = r.stdout.strip().splitlines()
    assert "45 minutes" in out and "Joe's Diner" in out  # the number with its unit (text/keep.py)


def test_probe_targets(rw):
    """The quality issue's faithfulness targets on the probe: every number kept in 29 of 30, no
    invented number, names kept in 27 of 30 (scaled to the probe's size)."""
    rows = read_probe(PROBE)
    outs = rw.rewrite([s for s, _ in rows])
    s = summary([check(src, out, names) for (src, names), out in zip(rows, outs)])
    n = s["sentences"]
    assert s["numbers_kept"] >= n * 29 / 30 and s["no_invented_number"] == n and s["names_kept"] >= n * 27 / 30
    assert sum(o != src for (src, _), o in zip(rows, outs)) >= n / 2  # faithful by rewriting, not by copying


def test_it_flips_plain_sentences(rw):
    negative = ["The food was cold and the waiter was rude.", "This is the worst pizza I have ever had."]
    positive = ["The staff was friendly and the food was delicious.", "I love this place!"]
    outs = rw.rewrite(negative, to="positive") + rw.rewrite(positive, to="negative")
    probs = rw.style_probs(outs)
    assert [int(p[1] > 0.5) for p in probs] == [1, 1, 0, 0], list(zip(outs, probs))
