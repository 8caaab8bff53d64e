"""The training-sentence filter (textcycle.text.sentence_filter): styled sentences kept, neutral ones
dropped, counts and files, determinism, reuse on resume, the config option and its errors.
Toy corpora only (no ../shared/data)."""

import itertools
import json
import random
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import NEG_WORDS, NOUNS, POS_WORDS, REPO, TINY_CONFIG, write_toy_files

from textcycle.config import load_config
from textcycle.errors import ConfigError
from textcycle.text.config import DataConfig, TextCycleConfig, validate_text_config
from textcycle.text.data import UnpairedCorpus, load_corpus
from textcycle.text.sentence_filter import (
    FILTER_DIR,
    apply_kept,
    filter_for_run,
    prepare_filter,
    score_sentences,
    select,
)

# neutral sentences (each once, under a random label): their words say nothing of the style
NEUTRAL = [
    f"we {v} there on {d} with my {w} ."
    for v, d, w in itertools.product(
        ("went", "drove", "walked", "came", "got"),
        ("monday", "friday", "sunday", "tuesday", "noon", "saturday"),
        ("wife", "son", "boss", "team", "mom", "kids", "dad"),
    )
]
random.Random(5).shuffle(NEUTRAL)
NEUTRAL_OF = [NEUTRAL[:100], NEUTRAL[100:200]]


def styled(words, n, seed):
    rng = random.Random(seed)
    return [f"the {rng.choice(NOUNS)} was {rng.choice(words)} ." for _ in range(n)]


def toy_corpus(tmp_path: Path) -> DataConfig:
    """The toy text files of conftest with the neutral sentences added to both training files."""
    files = write_toy_files(tmp_path)
    for s in (0, 1):
        with open(files[f"train_{s}"], "a", encoding="utf-8") as fh:
            fh.write("".join(n + "\n" for n in NEUTRAL_OF[s]))
    return DataConfig(source="text_files", **{k: v for k, v in files.items() if k != "dir"}, filter_min_prob=0.8)


class MainProcess:
    """The bits of an `accelerate.Accelerator` the training hook uses."""

    is_main_process = True

    def __init__(self):
        self.printed = []

    def print(self, *args):
        self.printed.append(" ".join(map(str, args)))

    def wait_for_everyone(self):
        pass


@pytest.fixture(scope="module")
def hand_made():
    train = [styled(NEG_WORDS, 150, 1) + NEUTRAL_OF[0], styled(POS_WORDS, 150, 2) + NEUTRAL_OF[1]]
    probs, _ = score_sentences(train, "en", ["negative", "positive"], seed=0, log=lambda m: None)
    return train, probs


def kept_shares(sentences, kept_sentences):
    """Percent of the styled and of the neutral sentences among `sentences` that were kept."""
    kept = set(kept_sentences)
    neutral = [x for x in sentences if x in set(NEUTRAL)]
    styled_ = [x for x in sentences if x not in set(NEUTRAL)]
    return (100 * sum(x in kept for x in styled_) / len(styled_), 100 * sum(x in kept for x in neutral) / len(neutral))


def test_styled_sentences_are_kept_and_neutral_ones_dropped(hand_made):
    train, probs = hand_made
    kept = select(probs, 0.8, None)
    for s in (0, 1):
        styled_kept, neutral_kept = kept_shares(train[s], [train[s][i] for i in kept[s]])
        assert styled_kept >= 95 and neutral_kept <= 25, (styled_kept, neutral_kept)
        assert all(0.0 <= p <= 1.0 for p in probs[s])


def test_select_caps_to_the_most_confident_in_corpus_order():
    probs = [[0.9, 0.6, 0.99, 0.8], [0.4, 0.95, 0.95, 0.7]]
    assert select(probs, 0.7, None) == [[0, 2, 3], [1, 2, 3]]
    assert select(probs, 0.7, 2) == [[0, 2], [1, 2]]


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """The training hook run once on the toy corpus: (data config, corpus, run folder, printed, result)."""
    root = tmp_path_factory.mktemp("filter")
    data = toy_corpus(root)
    corpus = load_corpus(data)
    acc = MainProcess()
    filtered = filter_for_run(data, corpus, root / "run", acc)
    return data, corpus, root / "run", acc.printed, filtered


def test_run_folder_counts_and_samples(toy_run):
    data, corpus, out, printed, filtered = toy_run
    folder = out / FILTER_DIR
    counts = json.loads((folder / "counts.json").read_text())
    assert counts["train"] == [len(t) for t in corpus.train]
    assert counts["kept"] == [len(t) for t in filtered.train]
    assert [k + d for k, d in zip(counts["kept"], counts["dropped"])] == counts["train"]
    for s in (0, 1):
        styled_kept, neutral_kept = kept_shares(corpus.train[s], filtered.train[s])
        assert styled_kept >= 95 and neutral_kept <= 25, (styled_kept, neutral_kept)
    assert filtered.dev == corpus.dev and filtered.test == corpus.test  # only train is filtered
    assert len(counts["dev_passing_percent"]) == 2
    assert any("kept" in line and "negative" in line for line in printed)  # the table at start
    samples = (folder / "samples.txt").read_text().splitlines()
    assert len([line for line in samples if not line.startswith("#")]) == 40  # 10 kept + 10 dropped per style
    assert (folder / "classifier-a" / "model.safetensors").is_file()
    assert (folder / "classifier-b" / "model.safetensors").is_file()


def test_resume_reuses_the_saved_filter(toy_run, tmp_path):
    data, corpus, out, _, filtered = toy_run
    folder = tmp_path / FILTER_DIR
    shutil.copytree(out / FILTER_DIR, folder)
    logs = []
    kept = prepare_filter(data, corpus, folder, log=logs.append)  # same settings: no classifier trained
    assert logs == [f"sentence filter: reusing {folder / 'kept.json'}"]
    assert apply_kept(corpus, kept).train == filtered.train
    # another threshold re-selects from the saved probabilities, again without training
    stricter = prepare_filter(replace(data, filter_min_prob=0.99), corpus, folder, log=logs.append)
    assert not any("trained" in m for m in logs)
    assert all(len(stricter[s]) <= len(kept[s]) for s in (0, 1))
    assert json.loads((folder / "counts.json").read_text())["min_prob"] == 0.99


def test_the_lm_runs_filter_as_the_small_run(toy_run, tmp_path):
    """`filtered_corpus` (the LM run's and lm_pairs' hook, no accelerator) keeps the sentences the
    small run keeps, from a copied filter folder without training; off, the corpus is untouched."""
    from textcycle.text.sentence_filter import filtered_corpus

    data, corpus, out, _, filtered = toy_run
    shutil.copytree(out / FILTER_DIR, tmp_path / FILTER_DIR)
    logs = []
    assert filtered_corpus(data, corpus, tmp_path, log=logs.append).train == filtered.train
    assert logs[0].startswith("sentence filter: reusing") and "kept" in logs[1]
    assert filtered_corpus(replace(data, filter_min_prob=None), corpus, tmp_path) is corpus


@pytest.mark.slow  # 25 s: a second filter run from scratch
def test_two_runs_keep_the_same_sentences(toy_run, tmp_path):
    data, corpus, out, _, first = toy_run
    second = filter_for_run(data, load_corpus(data), tmp_path, MainProcess())
    assert second.train == first.train
    assert (tmp_path / FILTER_DIR / "samples.txt").read_text() == (out / FILTER_DIR / "samples.txt").read_text()
    # the training text is fixed, so the tokenizer's fingerprint of it is stable too
    from textcycle.text.tokenizer import tokenizer_recipe

    cfg = TextCycleConfig(data=data)
    assert tokenizer_recipe(cfg, first) == tokenizer_recipe(cfg, second)


def test_option_off_changes_nothing(tmp_path):
    from textcycle.text.tokenizer import tokenizer_recipe

    cfg = load_config(TINY_CONFIG)
    assert cfg.data.filter_min_prob is None and DataConfig().filter_min_prob is None
    corpus = UnpairedCorpus(["negative", "positive"], train=[["a b"], ["c d"]], dev=[["x"], ["y"]])
    assert apply_kept(corpus, [[0], [0]]).train == corpus.train
    before = tokenizer_recipe(cfg, corpus)
    assert tokenizer_recipe(cfg, apply_kept(corpus, [[0], [0]])) == before


@pytest.mark.parametrize(
    "override, words",
    [
        ("data.filter_min_prob=0.2", "data.filter_min_prob"),
        ("data.filter_min_prob=1.5", "data.filter_min_prob"),
        ("data.filter_min_prob=.nan", "data.filter_min_prob"),
        ("data.filter_min_prob=high", "expected a number"),
        ("data.filter_max_per_style=0", "data.filter_max_per_style"),
    ],
)
def test_bad_values_are_one_line_errors(override, words):
    with pytest.raises(ConfigError, match=words) as e:
        validate_text_config(load_config(TINY_CONFIG, overrides=[override]))
    assert "\n" not in str(e.value)
    r = subprocess.run(
        [sys.executable, "-m", "textcycle.text.sentence_filter", "--config", TINY_CONFIG, "-o", override],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_command_without_a_threshold_says_so():
    r = subprocess.run(
        [sys.executable, "-m", "textcycle.text.sentence_filter", "--config", TINY_CONFIG],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "--min-prob" in r.stderr and "Traceback" not in r.stderr


def test_filter_keeping_nothing_is_a_clear_error():
    corpus = UnpairedCorpus(["negative", "positive"], train=[["a"], ["b"]])
    with pytest.raises(Exception, match="kept no negative"):
        apply_kept(corpus, [[], [0]])


@pytest.mark.parametrize(
    "args, words",
    [
        (["-o", "data.path=no-such-data", "--min-prob", "0.9"], "not found"),
        (["--min-prob", "2"], "data.filter_min_prob"),
    ],
)
def test_command_errors_are_one_line(args, words):
    r = subprocess.run(
        [sys.executable, "-m", "textcycle.text.sentence_filter", "--config", TINY_CONFIG, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and words in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_training_trains_its_tokenizer_on_the_kept_sentences_and_resumes_with_them(toy_run, tmp_path, capsys):
    import hashlib

    from textcycle.text.tokenizer import TOKENIZER_RECORD
    from textcycle.text.train import main

    data, corpus, _, _, filtered = toy_run
    out = tmp_path / "run"
    settings = [
        "data.source=text_files",
        "data.filter_min_prob=0.8",
        f"train.output_dir={out}",
        "train.warm_steps=2",
        "train.bt_start=1",
        "train.selftrain_rounds=0",
        "train.rl_steps=0",
        "train.save_every=1",
        *[f"data.{k}={getattr(data, k)}" for k in ("train_0", "train_1", "dev_0", "dev_1")],
    ]
    args = ["--config", TINY_CONFIG] + [a for kv in settings for a in ("-o", kv)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "sentence filter (p >= 0.8): kept" in printed
    kept = json.loads((out / FILTER_DIR / "counts.json").read_text())["kept"]
    assert kept == [len(t) for t in filtered.train]
    h = hashlib.sha256()
    for s in (0, 1):
        for line in filtered.train[s]:
            h.update(line.encode("utf-8") + b"\n")
    assert json.loads((out / "tokenizer" / TOKENIZER_RECORD).read_text())["train_text_sha256"] == h.hexdigest()
    assert main(args + ["--resume", "-o", "train.warm_steps=3"]) == 0  # same tokenizer, same sentences
    assert "sentence filter: reusing" in capsys.readouterr().out
