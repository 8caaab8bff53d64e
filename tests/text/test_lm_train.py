"""A whole LM run on the tiny random Llama: warm pairs, one self-training round through the fast
copy, RL steps; the run folder it leaves, and a resume that continues where it stopped."""

import json

import pytest

pytest.importorskip("peft")

from conftest import write_corpus

from textcycle.text.lm_pairs import read_pairs, write_pairs
from textcycle.text.lm_train import main
from textcycle.text.schedule import Schedule


def test_schedule_by_hand():
    s = Schedule(
        warm_steps=3, rounds=2, round_steps=2, rl_steps=1, lr=1e-3, warmup_steps=2, selftrain_lr=5e-4, rl_lr=1e-4
    )
    assert s.total == 8
    assert [s.phase(i) for i in range(8)] == [("warm", None)] * 3 + [("selftrain", 0)] * 2 + [("selftrain", 1)] * 2 + [
        ("rl", None)
    ]
    assert [s.lr * s.lr_factor(i) for i in (0, 1, 2, 3, 7)] == pytest.approx([5e-4, 1e-3, 1e-3, 5e-4, 1e-4])
    s.cut(1)  # a time-limit cut: RL follows the first round
    assert s.total == 6 and s.phase(5) == ("rl", None)


def test_pairs_file_round_trip_and_errors(tmp_path):
    write_pairs(tmp_path / "p.tsv", [("The food was bad.", "The food was great.", 1)])
    assert read_pairs(tmp_path / "p.tsv") == [("The food was bad.", "The food was great.", 1)]
    (tmp_path / "bad.tsv").write_text("only one column\n")
    with pytest.raises(Exception, match="line 1"):
        read_pairs(tmp_path / "bad.tsv")


@pytest.mark.slow
def test_a_tiny_lm_run_and_its_resume(tmp_path, tiny_base, trained, monkeypatch):
    data = write_corpus(tmp_path / "data")
    write_pairs(
        tmp_path / "pairs.tsv",
        [("The food was bad.", "The food was great.", 1), ("This staff is so friendly!", "This staff is so rude!", 0)],
    )
    out = tmp_path / "run"
    (tmp_path / "lm.yaml").write_text("# every value from the options below\n")
    args = [
        "--config",
        str(tmp_path / "lm.yaml"),
        "-o",
        "data.source=folder",
        "-o",
        f"data.path={data}",
        "-o",
        f"model.base={tiny_base}",
        "-o",
        "model.lora_rank=4",
        "-o",
        "model.max_new_tokens=12",
        "-o",
        f"discriminator_from={trained}",
        "-o",
        f"train.output_dir={out}",
        "-o",
        f"train.warm_pairs={tmp_path / 'pairs.tsv'}",
        "-o",
        "train.warm_steps=4",
        "-o",
        "train.batch_size=2",
        "-o",
        "train.selftrain_rounds=1",
        "-o",
        "train.selftrain_steps=2",
        "-o",
        "train.selftrain_sources=4",
        "-o",
        "train.selftrain_samples=1",
        "-o",
        "train.selftrain_min_style=0",
        "-o",
        "train.selftrain_min_content=0",
        "-o",
        "train.rl_steps=2",
        "-o",
        "train.rl_sources=1",
        "-o",
        "train.num_samples=2",
        "-o",
        "train.eval_every=4",
        "-o",
        "train.save_every=2",
        "-o",
        "train.eval_sentences=4",
        "-o",
        "train.threads=1",
        "-o",
        "train.log_every=1",
    ]
    assert main(args + ["-o", "train.time_limit_minutes=0"]) == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 8 and summary["selftrain_rounds"] == 1
    for f in ("config.json", "adapter/adapter_model.safetensors", "discriminator.safetensors", "tokenizer.model"):
        assert (out / "final" / f).is_file() and (out / "best" / f).is_file()
    assert (out / "curves.png").is_file() and (out / "selftrain" / "round-0.json").is_file()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-000006", "step-000008"]
    assert not (out / "fast-eval").exists()
    # a second start without --resume is refused; with it, a longer schedule continues at step 8
    assert main(args) == 2
    assert main(args + ["--resume", "-o", "train.rl_steps=4"]) == 0
    assert json.loads((out / "train_summary.json").read_text())["steps"] == 10
    assert json.loads((out / "final" / "config.json").read_text())["prompt_format"] == "chatml"  # a folder base
    # init_from: a run that starts from a saved model's adapter and discriminator (RL alone here,
    # at rate 0: the model it saves is the one it started from, weight for weight)
    import torch
    from safetensors.torch import load_file

    rl = out.parent / "rl"
    rl_args = args + [
        "-o",
        f"train.output_dir={rl}",
        "-o",
        f"train.init_from={out / 'final'}",
        "-o",
        "train.warm_steps=0",
    ]
    rl_args += ["-o", "train.selftrain_rounds=0", "-o", "train.rl_lr=0", "-o", "train.disc_lr=0"]
    assert main(rl_args) == 0
    for f in ("adapter/adapter_model.safetensors", "discriminator.safetensors"):
        start, end = load_file(str(out / "final" / f)), load_file(str(rl / "final" / f))
        assert start.keys() == end.keys() and all(torch.equal(start[k], end[k]) for k in start), f
    assert (
        main(rl_args + ["-o", f"train.output_dir={rl}-bad", "-o", f"train.init_from={trained}"]) == 2
    )  # a small model
    # the lexicon warm start needs no pairs file; an unknown warm start is one line
    lex = out.parent / "lex"
    lex_args = args + ["-o", f"train.output_dir={lex}", "-o", "train.warm_pairs=null", "-o", "train.warm_start=lexicon"]
    lex_args += ["-o", "train.warm_steps=2", "-o", "train.selftrain_rounds=0", "-o", "train.rl_steps=0"]
    assert main(lex_args + ["-o", "train.warm_start=teacher"]) == 2
    assert main(lex_args + ["-o", "model.prompt_format=alpaca"]) == 2
    assert main(lex_args) == 0
    assert json.loads((lex / "train_summary.json").read_text())["steps"] == 2
    # a self-training round with style-guidance rungs: greedy first, then each rung on what is left
    gd = out.parent / "guided"
    gd_args = rl_args + ["-o", f"train.output_dir={gd}", "-o", "train.selftrain_rounds=1", "-o", "train.rl_steps=0"]
    gd_args += ["-o", "train.selftrain_min_style=0.5", "-o", "train.selftrain_guidance=[1.5, 4]"]
    assert main(gd_args + ["-o", f"train.output_dir={gd}-bad", "-o", "train.selftrain_guidance=[1.5, 1.2]"]) == 2
    assert main(gd_args + ["-o", f"train.output_dir={gd}-bad", "-o", "train.selftrain_max_fluency_loss=-1"]) == 2
    assert main(gd_args + ["-o", f"train.output_dir={gd}-bad", "-o", "train.selftrain_fluent_beam=17"]) == 2
    # a fluency floor no rewrite misses (100 nats): the base scores every candidate, all pass as
    # before; a 2-beam rung decides what the guidance rungs left open
    gd_args += ["-o", "train.selftrain_max_fluency_loss=100", "-o", "train.selftrain_fluent_beam=2"]
    assert main(gd_args) == 0
    stats = json.loads((gd / "selftrain" / "round-0.json").read_text())["stats"]
    for t in (0, 1):
        rungs = [stats[f"selftrain/to{t}_at_guidance_{g}"] for g in ("1", "1.5", "4")]
        rungs.append(stats[f"selftrain/to{t}_at_fluent_beam"])
        assert stats[f"selftrain/kept_to{t}"] == pytest.approx(sum(rungs))
    # more rounds in the config extend a resumed run (only a time-limit cut stays)
    assert json.loads((gd / "train_summary.json").read_text())["steps"] == 2
    assert main(gd_args + ["--resume", "-o", "train.selftrain_rounds=2"]) == 0
    assert json.loads((gd / "train_summary.json").read_text())["steps"] == 4
    assert (gd / "selftrain" / "round-1.json").is_file()


def test_guided_choice_takes_the_least_guidance_that_passes():
    """Three sources: the greedy rewrite of the first passes (p(t) 0.9); the second passes at the
    first rung (1.5); the third is in style at rung 3 but keeps too little content (0.1 < 0.2), so
    it gives no pair. Each rung rewrites only the sources still open."""
    from types import SimpleNamespace

    import numpy as np

    from textcycle.text.lm_train import LMTrainingRun

    # (p(t | y), content) of each candidate, by its text
    scores = {"g0": (0.9, 0.8), "g1": (0.3, 0.9), "g2": (0.2, 0.9), "1.5-b": (0.7, 0.5), "1.5-c": (0.4, 0.6)}
    scores["3-c"] = (0.65, 0.1)
    calls = []

    def score_candidates(engine, ys, xs, s, t):
        p, c = np.array([scores[y] for y in ys]).T
        return p * c, p, c, np.zeros(len(ys), bool)

    def guided(xs, s, t, g):
        calls.append((g, xs))
        return [f"{g:g}-{x}" for x in xs]

    def generate(xs, to, beam=1, num_hypotheses=1):
        if beam == 1:
            return [[f"g{i}"] for i in range(len(xs))]
        assert num_hypotheses == beam == 3
        return [[f"b{j}-{x}" for j in range(3)] for x in xs]

    engine = SimpleNamespace(generate=generate)
    cfg = SimpleNamespace(
        train=SimpleNamespace(
            selftrain_guidance=[1.5, 3.0],
            selftrain_min_style=0.6,
            selftrain_min_content=0.2,
            selftrain_max_fluency_loss=None,
            selftrain_fluent_beam=0,
        )
    )
    run = SimpleNamespace(cfg=cfg, score_candidates=score_candidates, guided=guided)
    chosen, counts = LMTrainingRun.guided_choice(run, engine, ["a", "b", "c"], 0, 1)
    assert chosen == ["g0", "1.5-b", None]
    assert counts == [1, 1, 0]
    assert calls == [(1.5, ["b", "c"]), (3.0, ["c"])]

    # with a fluency floor of 1 nat: the greedy "g0" reads 2 nats worse than "a", so "a" goes up a
    # rung, where "1.5-a" (0.5) passes; "1.5-b" reads 1.2 worse, and "3-b" passes style but not content
    scores.update({"1.5-a": (0.8, 0.7), "3-b": (0.9, 0.1)})
    losses = {"g0": 2.0, "1.5-a": 0.5, "1.5-b": 1.2, "1.5-c": 0.0}
    cfg.train.selftrain_max_fluency_loss = 1.0
    calls.clear()
    run.fluency_losses = lambda xs, ys: [losses.get(y, 0.0) for y in ys]
    chosen, counts = LMTrainingRun.guided_choice(run, engine, ["a", "b", "c"], 0, 1)
    assert chosen == ["1.5-a", None, None]
    assert counts == [0, 1, 0]
    assert calls == [(1.5, ["a", "b", "c"]), (3.0, ["b", "c"])]

    # with a 3-beam rung after the guidance: "b" and "c" are still open. Of b's beam, b0 reads 1.5
    # worse (over the floor), b1 (0.8) and b2 (0.3) pass: the most fluent, b2, is taken. Of c's,
    # b0 is out of style, b1 keeps too little content, b2 is over the floor: no pair.
    scores.update({"b0-b": (0.9, 0.9), "b1-b": (0.9, 0.5), "b2-b": (0.7, 0.6)})
    scores.update({"b0-c": (0.4, 0.9), "b1-c": (0.9, 0.1), "b2-c": (0.9, 0.9)})
    losses.update({"b0-b": 1.5, "b1-b": 0.8, "b2-b": 0.3, "b2-c": 1.2})
    cfg.train.selftrain_fluent_beam = 3
    run.fluent_beam_choice = lambda *a: LMTrainingRun.fluent_beam_choice(run, *a)
    chosen, counts = LMTrainingRun.guided_choice(run, engine, ["a", "b", "c"], 0, 1)
    assert chosen == ["1.5-a", "b2-b", None]
    assert counts == [0, 1, 0, 1]


def test_broken_contractions_are_not_well_formed():
    from textcycle.text.lm_data import well_formed

    assert well_formed("I don't know, it wasn't bad, I can't and won't go. Ain't it?")
    assert not well_formed("The rooms were veryn't clean.") and not well_formed("Goodn't food.")


def test_teacher_pairs_from_the_bundled_small_model():
    """lm_pairs' teacher: the small model's best candidate into the other style, kept when its
    discriminator puts it there (a pair that copies its source is never kept)."""
    from textcycle.rewrite import Rewriter
    from textcycle.text.lm_pairs import teacher_pairs

    rw = Rewriter.from_pretrained("yelp-small", threads=1)
    sources = ["the food was cold and the waiter was rude .", "the service was terrible and slow ."]
    for rerank in (1, 3):
        pairs = teacher_pairs(rw, sources, 1, rerank, min_style=0.5)
        assert pairs and all(x in sources and y != x and isinstance(sc, float) for x, y, sc in pairs)
        assert all(p >= 0.5 for p in rw.style_probs([y for _, y, _ in pairs])[:, 1])
    assert teacher_pairs(rw, sources, 1, 1, min_style=1.01) == []


def test_a_usable_rewrite_keeps_numbers_and_neither_copies_nor_loops():
    from textcycle.text.lm_data import usable_rewrite

    src = "We paid $20 and the soup was cold."
    assert usable_rewrite(src, "We paid $20 and the soup was hot.")
    assert not usable_rewrite(src, src) and not usable_rewrite(src, "  ")
    assert not usable_rewrite(src, "We paid $25 and the soup was hot.")  # a number changed
    assert not usable_rewrite("We waited 45 minutes.", "We waited 45 great.")  # a number lost its unit
    assert not usable_rewrite(src, "We paid $20 and the soup was hot hot hot hot.")  # an invented loop
    assert not usable_rewrite(src, "We paid $20 and the soup wasveryn't cold.")  # a broken contraction


def test_a_rewrite_that_only_pastes_words_around_its_source_can_be_refused():
    """PTT self-training learnt to paste a board word (`好啊 要回升了` -> `... 垃圾你`); with
    `allow_appends=False` (train.selftrain_reject_appends) such candidates are unusable, a real edit
    or an insertion inside the sentence is not."""
    from textcycle.text.lm_data import appends_only, usable_rewrite

    src = "好啊 要回升了"
    for pasted in ("好啊 要回升了 垃圾你", "推 好啊 要回升了", "噓 好啊 要回升了 XD"):
        assert appends_only(src, pasted)
        assert usable_rewrite(src, pasted) and not usable_rewrite(src, pasted, allow_appends=False)
    for edit in ("好啊 要崩盤了", "好啊 不要回升了 垃圾"):
        assert not appends_only(src, edit) and usable_rewrite(src, edit, allow_appends=False)
    assert appends_only("3406ㄎㄚㄍㄚ", "3406 ㄎㄚㄍㄚ 純噓噓")  # spaces do not hide pasting
    assert not appends_only(src, src) and not appends_only("", "垃圾")


def test_few_shot_pairs_prompt_the_base_once_per_style_and_keep_usable_rewrites():
    """lm_pairs' few-shot mode on a stand-in base: the instruction and examples go in the static
    prompt, each source in its own turn; a rewrite is kept when usable and the judge puts it in
    the target style."""
    from types import SimpleNamespace

    import numpy as np

    from textcycle.text.lm_format import END, START, few_shot_prefix, few_shot_turn
    from textcycle.text.lm_pairs import few_shot_pairs

    rewrites = {
        "The soup was cold.": "The soup was hot.",  # kept
        "The fries were soggy.": "The fries were crisp.\nmodel\nThe",  # a base running on: its first line
        "We paid $20.": "We paid $25.",  # a changed number: dropped
        "It was bad.": "It was bad.",  # a copy: dropped
        "Rude staff.": "Rude staff, sadly.",  # usable, but the judge says it is not positive
    }

    class Tok:  # one "token" per text
        def encode(self, text, add_special_tokens=False):
            return SimpleNamespace(tokens=[text])

        def decode(self, ids, skip_special_tokens=True):
            return list(rewrites.values())[ids[0]]

    class Base:
        calls = []

        def generate_batch(self, prompts, static_prompt, **options):
            self.calls.append((static_prompt, options["end_token"]))
            turn = {few_shot_turn(x): i for i, x in enumerate(rewrites)}  # a prompt -> its source's rewrite
            return [SimpleNamespace(sequences_ids=[[turn[p[0]]]]) for p in prompts]

    judge = lambda texts: np.array([[0.9, 0.1] if "sadly" in t else [0.2, 0.8] for t in texts])  # noqa: E731
    examples = [("I hated it.", "I loved it.")]
    got = few_shot_pairs(Base(), Tok(), examples, list(rewrites), 1, "positive", judge, 0.5, batch=3)
    assert got == [
        ("The soup was cold.", "The soup was hot.", 0.8),
        ("The fries were soggy.", "The fries were crisp.", 0.8),
    ]
    prefix = few_shot_prefix(examples, "positive")
    assert Base.calls == [([prefix], [END, "\n", "\n\n"])] * 2  # two batches, one static prompt
    assert "so that it is positive" in prefix and f"{START}user\nI hated it.{END}" in prefix
    assert few_shot_turn("x") == f"{START}user\nx{END}\n{START}assistant\n"
    # Gemma's turns: <bos> once, no system role (the instruction is a user turn), the answer is "model"
    from textcycle.text.lm_format import PROMPT_FORMATS

    gemma = PROMPT_FORMATS["gemma"]
    g = few_shot_prefix(examples, "positive", gemma)
    assert g.startswith("<bos><start_of_turn>user\nRewrite") and g.count("<bos>") == 1
    assert "<start_of_turn>model\nI loved it.<end_of_turn>\n" in g and "system" not in g
    assert few_shot_turn("x", gemma) == "<start_of_turn>user\nx<end_of_turn>\n<start_of_turn>model\n"


def test_lexicon_pairs_swap_the_markers_and_never_teach_inventing_a_number():
    """lm_data.lexicon_pair with scripted draws: every marker swapped or dropped (the small
    method's p_swap 0.7 + p_drop 0.3), then word drop; a dropped number gives no pair."""
    import random

    from textcycle.text.lm_data import lexicon_pair

    class Scripted(random.Random):  # random() from a list, then seeded draws
        def __init__(self, values):
            super().__init__(0)
            self.values = list(values)

        def random(self):
            return self.values.pop(0) if self.values else super().random()

    lexicon = [(["awful"], {"awful"}), (["great"], {"great"})]
    y = "great food for _num_ dollars ."
    # "great": 0.1 < 0.7, swapped; then six words kept (0.9 >= drop 0.5) and none masked
    x, target, style = lexicon_pair(y, 1, lexicon, Scripted([0.1] + [0.9] * 12), 0.5, 0)
    assert style == 1 and x.lower().startswith("awful food for ") and target.lower().startswith("great food for ")
    assert x.split()[3] == target.split()[3] and x.split()[3].isdigit()  # the same number on both sides
    # "great": 0.8, dropped; then the number's draw 0.1 < 0.5 drops it: no pair
    assert lexicon_pair(y, 1, lexicon, Scripted([0.8, 0.9, 0.9, 0.1] + [0.9] * 10), 0.5, 0) is None


def test_fill_pair_drops_a_pair_that_loses_or_invents_a_number():
    import random

    from textcycle.text.lm_data import fill_pair

    x, y = fill_pair("it was $ _num_ for _num_ of us .", "it was only $ _num_ for _num_ of us .", random.Random(0))
    assert [w for w in x.split() if w[-1].isdigit()] == [w for w in y.split() if w[-1].isdigit()]
    assert fill_pair("it was $ _num_ .", "it was $ great .", random.Random(0)) is None  # the teacher's "$great"
    assert fill_pair("it was cheap .", "it was $ _num_ .", random.Random(0)) is None
    # a Chinese corpus is natural text already, its numbers real: pairs and sentences stay as they are
    from textcycle.text.lm_data import natural

    zh = ("台積電 300 元還在套牢 , 爛透了 !", "台積電 300 元還在賺 , 讚啦 !")
    assert fill_pair(*zh, random.Random(0), "zh") == zh
    assert natural(zh[0], random.Random(0), "zh") == zh[0] != natural(zh[0], random.Random(0))


def test_fluency_loss_is_the_rewrite_s_nll_per_token_minus_the_source_s():
    from textcycle.text.lm_pairs import fluency_loss, fluent_pairs

    class LM:  # (summed NLL, tokens) by hand
        table = {"good x": (4.0, 2), "gr8t zz": (9.0, 3), "bad x": (3.0, 2)}

        def nll(self, texts):
            return [self.table[t] for t in texts]

    pairs = [("bad x", "good x", 1), ("bad x", "gr8t zz", 1)]
    assert fluency_loss(LM(), pairs) == [2.0 - 1.5, 3.0 - 1.5]
    assert fluent_pairs(pairs, "unused", None, 1) == pairs  # no filter: no LM loaded


def test_refilter_keeps_usable_fluent_pairs(tmp_path, tiny_base, monkeypatch):
    from textcycle.text.lm_pairs import main, read_pairs, write_pairs

    monkeypatch.setenv("TEXTCYCLE_CACHE", str(tmp_path / "cache"))  # not the user's cache

    pairs = [
        ("We paid $20.", "We paid only $20.", 1),
        ("We paid $20.", "We paid $25.", 1),
        ("It was bad.", "It was bad.", 1),
    ]
    write_pairs(tmp_path / "in.tsv", pairs)
    (tmp_path / "lm.yaml").write_text("# defaults\n")
    args = ["--config", str(tmp_path / "lm.yaml"), "-o", f"model.base={tiny_base}", "--threads", "1"]
    args += ["--refilter", str(tmp_path / "in.tsv"), "--max-fluency-loss", "1000", "--out", str(tmp_path / "out.tsv")]
    assert main(args) == 0
    assert read_pairs(tmp_path / "out.tsv") == pairs[:1]  # a changed number and a copy dropped
    assert main(args) == 2  # never overwrites its output


def test_an_lm_bundle_is_the_model_folder_and_its_card(tmp_path):
    """text.bundle for an LM model: the folder's config, adapter, discriminator and SentencePiece
    model with the card; the run's dev file stays behind, and no fast copy is shipped."""
    from textcycle.text.bundle import save_lm_bundle
    from textcycle.text.model_card import model_card

    best = tmp_path / "run" / "best"
    (best / "adapter").mkdir(parents=True)
    for f in ("config.json", "adapter/adapter_model.safetensors", "discriminator.safetensors", "tokenizer.model"):
        (best / f).write_bytes(f.encode())
    (best / "dev_eval.json").write_text("{}")
    scores = {"name": "textcycle", "neg2pos": {}, "pos2neg": {}}
    card = model_card(
        tmp_path / "run", scores, "samples", {"train_seconds": 600}, "python -m textcycle.text.lm_train", lm=True
    )
    assert "SmolLM2-135M-Instruct" in card and "LoRA adapter" in card and "BART" not in card
    assert "numbers and names" not in card  # no probe given, no section
    at = model_card(
        tmp_path / "run", scores, "s", {"best_dev_G": 69.75, "shipped": {"step": 750, "minutes": 57.04}}, "c"
    )
    assert "dev G 69.8, at step 750 (minute 57)." in at
    probed = model_card(tmp_path / "run", scores, "samples", {}, "cmd", lm=True, probe="Every number kept in 3/3")
    assert "## Cased sentences with numbers and names" in probed and "Every number kept in 3/3" in probed
    assert "BART" in model_card(tmp_path / "run", scores, "samples", {}, "python -m textcycle.train")
    save_lm_bundle(best, tmp_path / "bundle", card)
    got = sorted(str(p.relative_to(tmp_path / "bundle")) for p in (tmp_path / "bundle").rglob("*") if p.is_file())
    assert got == [
        "README.md",
        "adapter/adapter_model.safetensors",
        "config.json",
        "discriminator.safetensors",
        "tokenizer.model",
    ]
    assert (tmp_path / "bundle" / "README.md").read_text() == card


def test_a_corpus_card_for_an_lm_model_names_its_base_and_licence(tmp_path):
    """text.bundle --config for an LM model of PTT: the card says Gemma and its terms (the YAML
    licence too), the small model's card stays Apache with its BART generators."""
    from textcycle.text.model_card import corpus_model_card

    one = {"style_accuracy": 50.0, "self_bleu": 60.0, "g": 54.8}
    row = {"name": "textcycle", "n": 4, **one, "neg2pos": one, "pos2neg": one}
    clear = {"min_prob": 0.9, "n": [0, 1], "ours": None}
    result = {"style_names": ["噓", "推"], "ours": row, "copy_input": dict(row, name="copy"), "clear": clear}
    args = (tmp_path, result, "samples", {"train_seconds": 60}, "cmd", "eval cmd", {})
    lm = corpus_model_card(*args, name="ptt", source="text_files", script="traditional", lm_base="gemma3-270m")
    assert "license: gemma\n" in lm and "`gemma3-270m` (Gemma terms of use" in lm
    assert "LoRA adapter" in lm and "BART" not in lm and "Traditional Chinese" in lm
    small = corpus_model_card(*args, name="ptt", source="text_files", script="traditional")
    assert "license: apache-2.0\n" in small and "BART-style" in small and "Traditional Chinese" in small


def test_refilter_by_the_teacher_s_style_and_the_share_of_the_source_kept(tmp_path):
    """--min-similarity drops a rewrite that replaced the comment; --min-style asks the teacher's
    discriminator (the bundled small Yelp model) whether the rewrite is in the target style."""
    from textcycle.text.lm_pairs import main, read_pairs, similarity, write_pairs

    assert similarity("the soup was cold", "the soup was hot") > 0.8
    assert similarity("the soup was cold", "great!") < 0.3
    pairs = [
        ("The soup was hot and the staff was friendly.", "The soup was cold and the staff was rude.", 0),
        ("The soup was hot and the staff was friendly.", "Terrible place!", 0),  # the comment replaced
        ("The soup was cold and the staff was rude.", "The soup was hot and the staff was lovely.", 1),
    ]
    write_pairs(tmp_path / "in.tsv", pairs)
    (tmp_path / "lm.yaml").write_text("# defaults\n")
    args = ["--config", str(tmp_path / "lm.yaml"), "--refilter", str(tmp_path / "in.tsv"), "--no-fluency-filter"]
    assert main(args + ["--min-similarity", "0.5", "--out", str(tmp_path / "a.tsv")]) == 0
    assert read_pairs(tmp_path / "a.tsv") == [pairs[0], pairs[2]]
    assert main(args + ["--min-style", "0.7", "--teacher", "yelp-small", "--out", str(tmp_path / "b.tsv")]) == 0
    assert read_pairs(tmp_path / "b.tsv") == pairs[:2]  # the small model does not call "lovely" positive
    pasted = [("The soup was hot.", "The soup was hot. Terrible!", 0), ("The soup was hot.", "The soup was cold.", 0)]
    write_pairs(tmp_path / "pasted.tsv", pasted)
    args[3] = str(tmp_path / "pasted.tsv")
    assert main(args + ["--no-appends", "--out", str(tmp_path / "d.tsv")]) == 0
    assert read_pairs(tmp_path / "d.tsv") == pasted[1:]
    for bad in (["--min-similarity", "5"], ["--min-style", "-1"], ["--min-similarity", "nan"]):
        assert main(args + bad + ["--out", str(tmp_path / "c.tsv")]) == 2  # one line, nothing written
    assert not (tmp_path / "c.tsv").exists()


def test_a_card_counts_the_training_of_the_model_a_run_started_from(tmp_path):
    """A run with train.init_from: its card's time and schedule include the start model's (its
    dev_eval.json: step 750, 57 min) before the run's own 300 steps (10 min)."""
    from textcycle.text.model_card import run_summary, schedule, train_minutes

    start, run = tmp_path / "warm" / "best", tmp_path / "run"
    start.mkdir(parents=True)
    run.mkdir()
    (start / "dev_eval.json").write_text(json.dumps({"step": 750, "minutes": 57.0}))
    (run / "config.yaml").write_text(f"train:\n  init_from: {start}\n")
    summary = {"steps": 300, "train_seconds": 600.0, "warm_steps": 0, "selftrain_rounds": 3, "selftrain_steps": 100}
    (run / "train_summary.json").write_text(json.dumps(summary))
    got = run_summary(run)
    assert got["init_from"] == {"path": str(start), "step": 750, "minutes": 57.0}
    assert train_minutes(got) == pytest.approx(67.0)
    assert schedule(got) == (
        f"from {start} (its step 750, 57 min), then 300 steps (0 warm start + 300 self-training in 3 rounds + 0 cycle-RL)"
    )
    (run / "config.yaml").write_text("train:\n  init_from: null\n")
    assert "init_from" not in run_summary(run) and train_minutes(run_summary(run)) == pytest.approx(10.0)
