"""The evaluation style classifier: a fastText-style bag of word and hashed-bigram embeddings.

It is the ruler for style accuracy, so it is deliberately separate from the discriminator that
training uses as a reward (nothing here imports `textcycle.models`): a system cannot be tuned
against the very network that scores it.

Model (Joulin et al. 2017, "Bag of Tricks"): each sentence is the mean of the embeddings of its
words and of its word bigrams (bigrams hashed into a fixed number of buckets, with sentence
boundary markers), followed by one linear layer to the two styles. Input text is brought into
the Yelp corpus form first (`yelp_tokenize`, numbers as `_num_`), exactly like the training
sentences. It trains in about a minute on one CPU thread.

Files in a classifier folder: `model.safetensors` (fp16), `config.json`, `vocab.txt` (one word
per line; line i = id i) and `metrics.json` (its own accuracies, written by training).
"""

from __future__ import annotations

import json
import math
import os
import random
import time
import zlib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..errors import TextcycleError
from ..text.textnorm import yelp_tokenize, zh_normalize

UNK = "<unk>"
BOS, EOS = "<s>", "</s>"


@dataclass
class ClassifierConfig:
    dim: int = 32
    buckets: int = 65536  # hashed bigram buckets
    min_count: int = 2  # words seen fewer times are <unk>
    max_vocab: int = 50000
    epochs: int = 3
    batch_size: int = 128
    lr: float = 5e-3
    weight_decay: float = 0.0
    dropout: float = 0.0
    seed: int = 0
    labels: list = field(default_factory=lambda: ["negative", "positive"])
    tokenization: str = "yelp_tokenize(numbers=True)"  # or "zh_chars": characters of zh_normalize'd text


class FastText(nn.Module):
    def __init__(self, n_rows: int, dim: int, n_labels: int = 2, dropout: float = 0.0):
        super().__init__()
        self.emb = nn.EmbeddingBag(n_rows, dim, mode="mean", sparse=True)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(dim, n_labels)
        nn.init.uniform_(self.emb.weight, -1.0 / dim, 1.0 / dim)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.out(self.drop(self.emb(ids, offsets)))


def _bigram_bucket(a: str, b: str, buckets: int) -> int:
    return zlib.crc32(f"{a}\u0001{b}".encode("utf-8")) % buckets


class StyleClassifier:
    """A trained classifier: vocabulary + hashing + the model. `prob_positive(texts)` etc."""

    def __init__(self, cfg: ClassifierConfig, vocab: list[str], model: FastText | None = None):
        self.cfg = cfg
        self.vocab = vocab
        self.word_id = {w: i for i, w in enumerate(vocab)}
        self.model = model or FastText(len(vocab) + cfg.buckets, cfg.dim, len(cfg.labels), cfg.dropout)
        self.model.eval()

    # ---- features -------------------------------------------------------------------------
    def tokens(self, text: str, normalized: bool = False) -> list[str]:
        """Words (English, Yelp form) or characters (Chinese, `tokenization: zh_chars`)."""
        if self.cfg.tokenization == "zh_chars":
            return [c for c in (text if normalized else zh_normalize(text)) if not c.isspace()]
        return (text if normalized else yelp_tokenize(text)).split()

    def features(self, text: str, normalized: bool = False) -> list[int]:
        toks = self.tokens(text, normalized)
        unk = self.word_id[UNK]
        ids = [self.word_id.get(t, unk) for t in toks]
        padded = [BOS] + toks + [EOS]
        n_words = len(self.vocab)
        ids += [n_words + _bigram_bucket(a, b, self.cfg.buckets) for a, b in zip(padded, padded[1:])]
        return ids

    def _batch(self, feats: list[list[int]]):
        offsets = torch.tensor([0] + [len(f) for f in feats[:-1]]).cumsum(0)
        ids = torch.tensor([i for f in feats for i in f], dtype=torch.long)
        return ids, offsets

    # ---- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def predict_proba(self, texts: list[str], normalized: bool = False, batch_size: int = 1024) -> torch.Tensor:
        """[n, 2] probabilities of (negative, positive) for each text."""
        self.model.eval()
        out = []
        for i in range(0, len(texts), batch_size):
            feats = [self.features(t, normalized) for t in texts[i : i + batch_size]]
            out.append(torch.softmax(self.model(*self._batch(feats)).float(), -1))
        return torch.cat(out) if out else torch.zeros(0, len(self.cfg.labels))

    def predict(self, texts: list[str], normalized: bool = False) -> list[int]:
        return self.predict_proba(texts, normalized).argmax(-1).tolist()

    def accuracy(self, texts: list[str], label: int, normalized: bool = False) -> float:
        """Percent of `texts` classified as `label`."""
        if not texts:
            return float("nan")
        pred = self.predict(texts, normalized)
        return 100.0 * sum(p == label for p in pred) / len(pred)

    # ---- files ------------------------------------------------------------------------------
    def save(self, out_dir: str | Path, metrics: dict | None = None) -> None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        sd = {k: v.detach().to(torch.float16).contiguous() for k, v in self.model.state_dict().items()}
        save_file(sd, str(out / "model.safetensors"), metadata={"format": "pt"})
        os.chmod(out / "model.safetensors", 0o644)
        (out / "vocab.txt").write_text("\n".join(self.vocab) + "\n", encoding="utf-8")
        info = {"model_type": "textcycle-fasttext-style-classifier", **asdict(self.cfg), "vocab_size": len(self.vocab)}
        (out / "config.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
        if metrics is not None:
            (out / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> "StyleClassifier":
        p = Path(path)
        needed = [p / "config.json", p / "vocab.txt", p / "model.safetensors"]
        for f in needed:
            if not f.is_file():
                raise TextcycleError(
                    f"no evaluation classifier at {p} ({f.name} missing); train one with "
                    "`python -m textcycle.evaluate.train_classifier`"
                )
        try:
            info = json.loads((p / "config.json").read_text(encoding="utf-8"))
            known = set(ClassifierConfig.__dataclass_fields__)
            cfg = ClassifierConfig(**{k: v for k, v in info.items() if k in known})
            vocab = (p / "vocab.txt").read_text(encoding="utf-8").split("\n")[:-1]
            sd = load_file(str(p / "model.safetensors"))
        except (OSError, ValueError, SafetensorError, TypeError) as e:
            raise TextcycleError(f"{p}: corrupt evaluation classifier ({e})") from None
        clf = cls(cfg, vocab)
        try:
            clf.model.load_state_dict({k: v.float() for k, v in sd.items()})
        except RuntimeError as e:
            raise TextcycleError(f"{p}: weights do not match config.json ({str(e).splitlines()[0]})") from None
        return clf


def build_vocab(sentences: list[str], min_count: int, max_vocab: int, split=str.split) -> list[str]:
    counts = Counter(w for s in sentences for w in split(s))
    words = [w for w, c in sorted(counts.items(), key=lambda x: (-x[1], x[0])) if c >= min_count]
    return [UNK] + [w for w in words if w != UNK][: max_vocab - 1]


def train_classifier(
    train: list[list[str]],
    cfg: ClassifierConfig | None = None,
    dev: list[list[str]] | None = None,
    log=print,
) -> StyleClassifier:
    """Train on `train[0]` (label 0) and `train[1]` (label 1): sentences already in corpus form.

    Classes are weighted by inverse frequency so an unbalanced corpus (Yelp has 1.4x as many
    positive sentences) does not tilt the decision. With `dev`, returns the epoch with the
    best dev accuracy (model selection on Li et al. dev, never on test); else the last epoch.
    """
    cfg = cfg or ClassifierConfig()
    if not train[0] or not train[1]:
        raise TextcycleError("classifier training needs sentences of both styles")
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    splitter = StyleClassifier(cfg, [UNK], FastText(1, 1))  # only its tokenisation is used
    vocab = build_vocab(
        train[0] + train[1], cfg.min_count, cfg.max_vocab, split=lambda s: splitter.tokens(s, normalized=True)
    )
    clf = StyleClassifier(cfg, vocab)
    data = [(clf.features(s, normalized=True), y) for y in (0, 1) for s in train[y]]
    n0, n1 = len(train[0]), len(train[1])
    weight = torch.tensor([(n0 + n1) / (2 * n0), (n0 + n1) / (2 * n1)])
    model = clf.model
    # sparse updates for the big embedding table (only the rows a batch touches), dense for the rest
    opts = [
        torch.optim.SparseAdam(list(model.emb.parameters()), lr=cfg.lr),
        torch.optim.Adam(list(model.out.parameters()), lr=cfg.lr, weight_decay=cfg.weight_decay),
    ]
    steps_per_epoch = math.ceil(len(data) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    scheds = [torch.optim.lr_scheduler.LambdaLR(o, lambda s: max(0.0, 1.0 - s / total)) for o in opts]
    best, best_state = -1.0, None
    loss_fn = nn.CrossEntropyLoss(weight=weight)
    t0 = time.time()
    for epoch in range(cfg.epochs):
        model.train()
        rng.shuffle(data)
        tot, n = 0.0, 0
        for i in range(0, len(data), cfg.batch_size):
            chunk = data[i : i + cfg.batch_size]
            ids, offsets = clf._batch([f for f, _ in chunk])
            y = torch.tensor([lab for _, lab in chunk])
            loss = loss_fn(model(ids, offsets), y)
            for o in opts:
                o.zero_grad(set_to_none=True)
            loss.backward()
            for o, sc in zip(opts, scheds):
                o.step()
                sc.step()
            tot += loss.item() * len(chunk)
            n += len(chunk)
        model.eval()
        msg = f"epoch {epoch + 1}/{cfg.epochs} loss {tot / n:.4f} ({time.time() - t0:.0f}s)"
        if dev and dev[0] and dev[1]:
            a0 = clf.accuracy(dev[0], 0, normalized=True)
            a1 = clf.accuracy(dev[1], 1, normalized=True)
            acc = (a0 * len(dev[0]) + a1 * len(dev[1])) / (len(dev[0]) + len(dev[1]))
            msg += f" dev acc {acc:.2f}%"
            if acc > best:  # keep the epoch with the best dev accuracy
                best = acc
                best_state = {k: v.clone() for k, v in model.state_dict().items()}
                msg += " (best)"
        log(msg)
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return clf
