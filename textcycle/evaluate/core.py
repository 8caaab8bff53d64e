"""Score a system's outputs on the Yelp test set: style accuracy, BLEU, self-BLEU, perplexity, G.

All figures are percentages except perplexity. Per direction (`neg2pos`, `pos2neg`):
- `style_accuracy`: share of outputs the evaluation classifier assigns to the target style;
- `bleu_ref1`: BLEU against the Li et al. reference (`reference.{0,1}`, 1 reference);
- `bleu_ref4`: BLEU against `references4/reference{0,1,2,3}` (4 references);
- `self_bleu`: BLEU against the source sentences;
- `perplexity`: "our LM" perplexity of the outputs (see `lm.py`);
- `perplexity_pretrained`: perplexity under a pretrained LM, SmolLM2-135M (`pretrained_lm.py`;
  with `pretrained_lm=True`, else None);
- `g_ref4` / `g_ref1` = sqrt(ACC x BLEU), `hm_ref4` / `hm_ref1` = harmonic mean of ACC and BLEU.
Top level: BLEU figures are the **average of the two directions**; `*_concat` are the same BLEU
computed once over all 1000 sentences; `style_accuracy` and `perplexity` are pooled over all
1000 (with 500 + 500 sentences the accuracy equals the direction average); G and HM use the
top-level ACC and BLEU (`g_ref4_concat` uses `bleu_ref4_concat`).
"""

from __future__ import annotations

import math
from pathlib import Path

from ..errors import TextcycleError
from .bleu import bleu_normalize, corpus_bleu, g_score, harmonic_mean
from .paths import DEFAULT_CLASSIFIER, DEFAULT_DATA, DEFAULT_LM
from .testset import DIRECTIONS, YelpTestSet, check_lines, load_testset

METRIC_KEYS = (
    "style_accuracy",
    "bleu_ref1",
    "bleu_ref4",
    "self_bleu",
    "perplexity",
    "perplexity_pretrained",
    "g_ref4",
    "g_ref1",
    "hm_ref4",
    "hm_ref1",
)
CONCAT_KEYS = ("bleu_ref1_concat", "bleu_ref4_concat", "self_bleu_concat", "g_ref4_concat")


def _r(x, nd=3):
    return None if x is None else round(float(x), nd)


class Evaluator:
    """Holds the test set, the normalised references, the classifier and the LM."""

    def __init__(
        self,
        data_dir: str | Path = DEFAULT_DATA,
        classifier_dir: str | Path | None = None,
        lm_dir: str | Path | None = None,
        use_lm: bool = True,
        testset: YelpTestSet | None = None,
        pretrained_lm: bool = False,
    ):
        self.ts = testset or load_testset(data_dir)
        self.classifier_dir = Path(classifier_dir or DEFAULT_CLASSIFIER)
        self.lm_dir = Path(lm_dir or DEFAULT_LM)
        self.use_lm, self.use_pretrained = use_lm, pretrained_lm
        self._clf = None
        self._lm = None
        self._pretrained = None
        ts = self.ts
        self.src_n = [[bleu_normalize(x) for x in ts.sources[s]] for s in (0, 1)]
        self.li_n = [[bleu_normalize(x) for x in ts.li_refs[s]] for s in (0, 1)]
        self.r4_n = [[[bleu_normalize(x) for x in ts.refs4[s][k]] for k in range(4)] for s in (0, 1)]

    @property
    def classifier(self):
        if self._clf is None:
            from .classifier import StyleClassifier

            self._clf = StyleClassifier.load(self.classifier_dir)
        return self._clf

    @property
    def lm(self):
        if self._lm is None and self.use_lm:
            from .lm import LanguageModel

            self._lm = LanguageModel.load(self.lm_dir)
        return self._lm

    @property
    def pretrained(self):
        if self._pretrained is None and self.use_pretrained:
            from .pretrained_lm import PretrainedLM

            self._pretrained = PretrainedLM.load()
        return self._pretrained

    def load_models(self) -> None:
        _ = self.classifier, self.lm, self.pretrained  # the properties load them

    def check(self, neg2pos: list[str], pos2neg: list[str], name: str = "system") -> None:
        for s, (d, lines) in enumerate(zip(DIRECTIONS, (neg2pos, pos2neg))):
            if not isinstance(lines, (list, tuple)) or not all(isinstance(x, str) for x in lines):
                raise TextcycleError(f"{name}/{d}: expected a list of strings")
            check_lines(list(lines), f"{name}/{d}", len(self.ts.sources[s]))

    def score(
        self,
        neg2pos: list[str],
        pos2neg: list[str],
        name: str | None = None,
        ref4: tuple = (0, 1, 2, 3),
        ref1: bool = True,
    ) -> dict:
        """The metric dict of one system. `ref4`: which of references4 count as the multi-reference
        set (the human row uses the 3 others); `ref1=False` leaves the 1-reference BLEU out."""
        self.check(neg2pos, pos2neg, name or "system")
        outs = [list(neg2pos), list(pos2neg)]
        hyp_n = [[bleu_normalize(x) for x in outs[s]] for s in (0, 1)]
        res: dict = {"name": name}
        acc_counts, nll, ntok, pre = [], 0.0, 0, [0.0, 0]
        for s, d in enumerate(DIRECTIONS):
            target = 1 - s
            n = len(outs[s])
            pred = self.classifier.predict(outs[s])
            correct = sum(p == target for p in pred)
            acc_counts.append((correct, n))
            acc = 100.0 * correct / n
            b1 = corpus_bleu(hyp_n[s], [self.li_n[s]]) if ref1 else None
            b4 = corpus_bleu(hyp_n[s], [self.r4_n[s][k] for k in ref4])
            sb = corpus_bleu(hyp_n[s], [self.src_n[s]])
            ppl = None
            if self.lm is not None:
                pairs = self.lm.nll(outs[s])
                d_nll, d_tok = sum(a for a, _ in pairs), sum(c for _, c in pairs)
                nll, ntok = nll + d_nll, ntok + d_tok
                ppl = math.exp(d_nll / d_tok)
            ppl_pre = None
            if self.pretrained is not None:
                pairs = self.pretrained.nll(outs[s])
                d_nll, d_tok = sum(a for a, _ in pairs), sum(c for _, c in pairs)
                pre = [pre[0] + d_nll, pre[1] + d_tok]
                ppl_pre = math.exp(d_nll / d_tok) if d_tok else None
            res[d] = {
                "style_accuracy": acc,
                "bleu_ref1": b1,
                "bleu_ref4": b4,
                "self_bleu": sb,
                "perplexity": ppl,
                "perplexity_pretrained": ppl_pre,
                "g_ref4": g_score(acc, b4),
                "g_ref1": g_score(acc, b1),
                "hm_ref4": harmonic_mean(acc, b4),
                "hm_ref1": harmonic_mean(acc, b1),
                "n": n,
            }

        def both(k):
            return None if res["neg2pos"][k] is None else (res["neg2pos"][k] + res["pos2neg"][k]) / 2

        acc = 100.0 * sum(c for c, _ in acc_counts) / sum(n for _, n in acc_counts)
        cat_h = hyp_n[0] + hyp_n[1]
        b1c = corpus_bleu(cat_h, [self.li_n[0] + self.li_n[1]]) if ref1 else None
        b4c = corpus_bleu(cat_h, [self.r4_n[0][k] + self.r4_n[1][k] for k in ref4])
        sbc = corpus_bleu(cat_h, [self.src_n[0] + self.src_n[1]])
        b1, b4 = both("bleu_ref1"), both("bleu_ref4")
        top = {
            "style_accuracy": acc,
            "bleu_ref1": b1,
            "bleu_ref4": b4,
            "self_bleu": both("self_bleu"),
            "perplexity": math.exp(nll / ntok) if ntok else None,
            "perplexity_pretrained": math.exp(pre[0] / pre[1]) if pre[1] else None,
            "g_ref4": g_score(acc, b4),
            "g_ref1": g_score(acc, b1),
            "hm_ref4": harmonic_mean(acc, b4),
            "hm_ref1": harmonic_mean(acc, b1),
            "bleu_ref1_concat": b1c,
            "bleu_ref4_concat": b4c,
            "self_bleu_concat": sbc,
            "g_ref4_concat": g_score(acc, b4c),
            "n": len(cat_h),
        }
        res.update(top)
        res["references"] = {
            "ref1": "Li et al. 2018 reference (reference.{0,1})" if ref1 else None,
            "ref4": [f"references4/reference{k}" for k in ref4],
        }
        # rounded copy, keys in a stable order
        out = {"name": name}
        for k in METRIC_KEYS + CONCAT_KEYS:
            out[k] = _r(res[k])
        out["n"] = res["n"]
        for d in DIRECTIONS:
            out[d] = {k: _r(res[d][k]) for k in METRIC_KEYS}
            out[d]["n"] = res[d]["n"]
        out["references"] = res["references"]
        return out


_CACHE: dict = {}


def get_evaluator(data_dir=DEFAULT_DATA, classifier_dir=None, lm_dir=None, use_lm=True) -> Evaluator:
    key = (str(Path(data_dir).resolve()), str(classifier_dir), str(lm_dir), use_lm)
    if key not in _CACHE:
        _CACHE[key] = Evaluator(data_dir, classifier_dir, lm_dir, use_lm)
    return _CACHE[key]


def evaluate_system(
    neg2pos_lines: list[str],
    pos2neg_lines: list[str],
    data_dir: str | Path = DEFAULT_DATA,
    classifier_dir: str | Path | None = None,
    lm_dir: str | Path | None = None,
    use_lm: bool = True,
    name: str | None = None,
) -> dict:
    """Score one system: `neg2pos_lines[i]` rewrites line i of li2018/sentiment.test.0 into
    positive, `pos2neg_lines[i]` line i of sentiment.test.1 into negative. Returns the dict
    described in this module's docstring (percentages; perplexity raw). Models and references
    are loaded once per process and reused."""
    ev = get_evaluator(data_dir, classifier_dir, lm_dir, use_lm)
    return ev.score(list(neg2pos_lines), list(pos2neg_lines), name=name)
