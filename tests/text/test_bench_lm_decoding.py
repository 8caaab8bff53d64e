"""bench/bench_lm_decoding.py's fluency-repair pilot, on hand-set losses."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from bench_lm_decoding import fluency_repair  # noqa: E402

NLL = {"x a": 1.0, "x b": 1.0, "good a": 2.0, "bad b": 4.0, "one": 1.2, "two": 2.0, "three": 2.2, "four": 5.0}


class LM:
    def nll(self, texts):
        return [(NLL[t], 1) for t in texts]


class Engine:
    def __init__(self, beams):
        self.beams = beams

    def generate(self, texts, to, beam, num_hypotheses):
        assert (to, beam, num_hypotheses) == (1, 4, 4)
        return [self.beams[t] for t in texts]


class Rewriter:
    in_style = {"one": 0.2, "two": 0.9, "three": 0.8, "four": 0.95}

    def __init__(self, beams):
        self.engine = Engine(beams)

    def style_probs(self, texts):
        return np.array([[1 - self.in_style[t], self.in_style[t]] for t in texts])


def test_only_a_rewrite_past_the_limit_is_replaced_by_the_most_fluent_in_style_candidate_within_it():
    rw = Rewriter({"X B": ["one", "two", "three", "four"]})
    # "good a" loses 1.0 (kept); "bad b" loses 3.0: "one" is out of style, "four" loses 4.0,
    # "two" (1.0) beats "three" (1.2)
    assert fluency_repair(rw, LM(), ["X A", "X B"], ["x a", "x b"], ["good a", "bad b"], 1, 1.5) == ["good a", "two"]


def test_a_rewrite_with_no_fluent_in_style_candidate_stays():
    rw = Rewriter({"X B": ["one", "four"]})
    assert fluency_repair(rw, LM(), ["X B"], ["x b"], ["bad b"], 1, 1.5) == ["bad b"]
