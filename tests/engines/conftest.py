"""The engine tests' fixtures: the bundled Yelp model in torch, copies of it with CTranslate2
copies (float16: exact for its fp16 weights; the default int8 + float16 export), the Li test
sentences, and the torch reference's greedy rewrites."""

import hashlib
import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("ctranslate2")

from textcycle.engines.ct2 import CT2Engine  # noqa: E402
from textcycle.model_folder import ModelFolder  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
BUNDLED = REPO / "textcycle" / "pretrained" / "yelp"
SHARED = Path(os.environ.get("TEXTCYCLE_SHARED_DATA", REPO.parent / "shared" / "data"))
LI = SHARED / "yelp" / "li2018"
N_PARITY = 200  # sentences per direction
FALLBACK = [
    "the food was cold and the waiter was rude .",
    "great pizza , friendly staff !",
    "i will never come back here .",
    "the room was clean and the bed was comfortable .",
    "worst service i have ever had .",
    "we loved the desserts .",
]


def _digests(folder: Path) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def li_sentences(style: int, n: int = N_PARITY) -> list[str]:
    f = LI / f"sentiment.test.{style}"
    if not f.is_file():
        pytest.skip(f"Li et al. test sentences not found at {f} (shared data absent; set TEXTCYCLE_SHARED_DATA)")
    from textcycle.text.textnorm import normalize

    return [normalize(line.strip()) for line in f.read_text(encoding="utf-8").splitlines() if line.strip()][:n]


@pytest.fixture(scope="module")
def torch_model():
    if not BUNDLED.is_dir():
        pytest.skip("the bundled Yelp model is not installed")
    import torch

    from textcycle.text.model import TextCycleModel

    torch.set_num_threads(2)
    return TextCycleModel.from_pretrained(BUNDLED)


@pytest.fixture(scope="module")
def f16_folder(tmp_path_factory, torch_model):
    """A copy of the bundled model with float16 CTranslate2 copies (the bundled weights are fp16
    values, so these are exact), made through the command line, in place."""
    from textcycle.ct2_export import main

    folder = tmp_path_factory.mktemp("f16") / "yelp"
    shutil.copytree(BUNDLED, folder)
    before = _digests(folder)
    assert main([str(folder), "--quantization", "float16"]) == 0
    assert _digests(folder) == before  # the other files are untouched
    assert sorted(p.name for p in (folder / "ct2").iterdir()) == ["manifest.json", "to_0", "to_1"]
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporaries left
    return folder


@pytest.fixture(scope="module")
def default_folder(tmp_path_factory, torch_model):
    """A copy with the default export (int8 layers, float16 embeddings), through the Python API."""
    import torch

    from textcycle.engines.ct2_convert import DEFAULT_QUANTIZATION, export_ctranslate2

    folder = tmp_path_factory.mktemp("default") / "yelp"
    shutil.copytree(BUNDLED, folder)
    weights = {
        f"{t}.{k}": v.detach().clone() for t in (0, 1) for k, v in torch_model.generators[t].state_dict().items()
    }
    out = export_ctranslate2(torch_model, folder, DEFAULT_QUANTIZATION)
    assert out == folder / "ct2"
    # CTranslate2's int8 quantization writes into the tensors it is given: the export must not
    # change the model in memory (nor, through the shared embedding, the other generator)
    after = {f"{t}.{k}": v for t in (0, 1) for k, v in torch_model.generators[t].state_dict().items()}
    assert all(torch.equal(weights[k], after[k]) for k in weights)
    return folder


@pytest.fixture(scope="module")
def engine(f16_folder):
    return CT2Engine.from_folder(ModelFolder.open(f16_folder), threads=2)


def torch_greedy(model, ids, to, max_new=None):
    import torch

    from textcycle.text.networks import decode, pad_batch

    x, m = pad_batch(ids)
    with torch.no_grad():
        out = decode(model.generators[to], x, m, max_new or model.max_length + 8)
    return [[int(t) for t in row if t != 0] for row in out]


def identical(a, b) -> int:
    return sum(x == y for x, y in zip(a, b))


_REFS: dict = {}


def torch_refs(torch_model, source: int):
    """(ids, torch greedy rewrites) of the first N_PARITY Li test sentences of `source`, once."""
    if source not in _REFS:
        ids = torch_model.tokenizer.encode_fast(li_sentences(source), torch_model.max_length)
        _REFS[source] = ids, torch_greedy(torch_model, ids, 1 - source)
    return _REFS[source]
