"""Evaluation of Yelp sentiment transfer: the ruler the project is judged by.

- style accuracy from a separate fastText-style classifier (`classifier.py`, never the training
  discriminator), trained on the Yelp training split;
- BLEU with sacrebleu against the Li et al. reference (1 ref) and references4 (4 refs), and
  self-BLEU against the source, all on one common normalisation (`bleu.py`);
- fluency as perplexity under our small GPT-2-style LM (`lm.py`);
- G = sqrt(ACC x BLEU) and the harmonic mean.

Command line: `python -m textcycle.evaluate SYSTEM_DIR ...` or `--leaderboard` (see `__main__.py`).
Python: `evaluate_system(neg2pos_lines, pos2neg_lines, data_dir=...)`.
"""

from .bleu import bleu_normalize, corpus_bleu, g_score, harmonic_mean
from .core import Evaluator, evaluate_system

__all__ = ["evaluate_system", "Evaluator", "bleu_normalize", "corpus_bleu", "g_score", "harmonic_mean"]
