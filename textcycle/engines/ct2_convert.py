"""CTranslate2 copies of a model's two generators, for fast rewriting without torch.

`export_ctranslate2(model, folder)` (called by `TextCycleModel.save_pretrained`, and by the
command `python -m textcycle.ct2_export MODEL_DIR` for existing folders) writes `folder/ct2/`:

- `ct2/to_0/`, `ct2/to_1/`  CTranslate2 model folders of G_yx (into style 0) and G_xy (into
                            style 1): `model.bin`, `config.json`, `shared_vocabulary.json`
                            (the SentencePiece pieces, so CTranslate2 token i = SentencePiece id i)
- `ct2/manifest.json`       format version, quantization, ctranslate2 version, and the size and
                            SHA-256 of every file above and of the `generators.safetensors` they
                            were made from (`engines.ct2_format`: the engine checks them before
                            loading, so a truncated or stale copy is a clear error, never a crash)

`ct2/` is written whole or not at all (built in a temporary folder beside it, then renamed).
`textcycle.engines.ct2.CT2Engine` reads it (with the folder's `tokenizer.model`, `config.json` and
`discriminator.safetensors`) and never imports torch. This module does import torch and
transformers: export runs once, where the model was trained.

Quantization (`--quantization`): how the weights are *stored*. CTranslate2's own types, plus
`int8_embed_float16` (the default): int8 linear layers, the token embedding / output projection
(one tied tensor) and the small rest in float16. The engine computes in what was stored unless
asked otherwise (`CT2Engine.from_folder(..., compute_type=...)`; int8_embed_float16 computes in
float32). Measured on the bundled Yelp model (1000 Li et al. test sentences, greedy, identical to
the torch decode loop; folder size with the copies; bench/bench_engine.py):

    float16             float32 compute: 1000/1000 identical   57.3 MiB
    int8_embed_float16  float32 compute:  993/1000             46.9 MiB  int8 compute: 881/1000
    int8                float32 compute:  980/1000             43.3 MiB  int8 compute: 881/1000
    float32             float32 compute: 1000/1000             86.3 MiB

The bundled models store fp16 values, so float16 storage loses nothing; int8_embed_float16 is
what fits the 48 MiB a bundled folder may take while staying above 99% identical in float32.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import TextcycleError
from ..files import atomic_dir
from .ct2_format import CT2_DIR, FORMAT_VERSION, MANIFEST, SOURCE, file_entry

MIXED = "int8_embed_float16"  # ours: int8 linear layers, float16 embedding/output projection and the rest
DEFAULT_QUANTIZATION = MIXED
QUANTIZATIONS = (
    MIXED,
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
)
# the variables MIXED keeps in float16: the token embeddings and the output projection (one
# tensor in our tied generators), where int8 rounding changes the most greedy outputs
_FLOAT16_SCOPES = ("embeddings", "projection")


class _Pieces:
    """The bits of a tokenizer CTranslate2's BartLoader asks for, answered from SentencePiece
    pieces: CTranslate2 token i is SentencePiece id i (0 <pad>, 1 <unk>, 2 <s>, 3 </s>)."""

    def __init__(self, pieces: list[str]):
        self.pieces = pieces
        self.unk_token, self.bos_token, self.eos_token = pieces[1], pieces[2], pieces[3]

    def get_vocab(self) -> dict:
        return {p: i for i, p in enumerate(self.pieces)}

    def convert_ids_to_tokens(self, i):
        return self.pieces[i] if isinstance(i, int) else [self.pieces[j] for j in i]


def vocabulary(model) -> list[str]:
    """The generator vocabulary as SentencePiece pieces, one per embedding row."""
    sp = model.tokenizer.sp_model
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    size = model.generators[1].config.vocab_size
    if len(pieces) > size:
        raise TextcycleError(f"the tokenizer has {len(pieces)} pieces but the generators only {size} rows")
    pieces += [f"<textcycle_unused_{i}>" for i in range(len(pieces), size)]  # rows no id reaches
    if len(set(pieces)) != len(pieces):
        raise TextcycleError("the SentencePiece vocabulary has duplicate pieces; CTranslate2 needs unique tokens")
    return pieces


def _convert(generator, pieces: list[str], out: Path, quantization: str) -> None:
    """Convert one generator: CTranslate2's BartLoader builds the model spec from the module in
    memory, then the steps of `Converter.convert` (validate, optimize = alias + quantize, save).
    CTranslate2's quantization writes into the tensors it is given (measured with ctranslate2
    4.8.5: int8 changed the embedding and linear weights of the model in memory, and so the
    other generator's shared embedding), so the loader gets a private copy."""
    import copy

    import torch
    from ctranslate2.converters.transformers import BartLoader

    generator = copy.deepcopy(generator).eval()  # never the caller's tensors (see above)
    cfg = generator.config
    if getattr(cfg, "model_type", "bart") != "bart" or getattr(cfg, "scale_embedding", False):
        raise TextcycleError(
            f"CTranslate2 export supports the BART generators textcycle builds "
            f"(got model_type={cfg.model_type!r}, scale_embedding={cfg.scale_embedding})"
        )
    # plain BART: post-norm layers and a layer norm on the embeddings; BartLoader reads these two
    # from the config (fairseq's names), which BartConfig lacks
    cfg.normalize_before, cfg.normalize_embedding = False, True
    with torch.no_grad():
        spec = BartLoader()(generator, _Pieces(pieces))
        spec.validate()
        if quantization == MIXED:
            _optimize_mixed(spec)
        else:
            spec.optimize(quantization=quantization)
        out.mkdir(parents=True)
        spec.save(str(out))


def _optimize_mixed(spec) -> None:
    """`ModelSpec.optimize` for MIXED: alias equal tensors, then int8 for every quantizable
    weight outside `_FLOAT16_SCOPES` and float16 for everything else. CTranslate2 has no public
    switch for this; it uses the `variable_filter` of `LayerSpec._quantize` (ctranslate2 4.8.5),
    and says so clearly where that is missing."""
    import inspect

    q = getattr(spec, "_quantize", None)
    if q is None or not hasattr(spec, "_alias_variables") or "variable_filter" not in inspect.signature(q).parameters:
        import ctranslate2

        raise TextcycleError(
            f"quantization {MIXED} needs the ctranslate2 4.8 spec internals; this is "
            f"ctranslate2 {ctranslate2.__version__}: export with --quantization int8 or float16"
        )
    keep = lambda name: any(scope in name.split("/") for scope in _FLOAT16_SCOPES)  # noqa: E731
    spec._alias_variables()
    spec._quantize("int8_float16", variable_filter=lambda name: not keep(name))
    spec._quantize("float16", variable_filter=keep)


def export_ctranslate2(model, folder: str | Path, quantization: str = DEFAULT_QUANTIZATION) -> Path:
    """Write CTranslate2 copies of `model`'s generators into `folder/ct2/` (atomically, replacing
    an older `ct2/`); returns that path. `model` is a loaded `textcycle.model.TextCycleModel`
    whose weights `folder` holds (`save_pretrained` first: the manifest records the SHA-256 of
    `folder/generators.safetensors`, and the engine refuses a copy whose source has changed).
    `quantization`: how CTranslate2 stores the weights (see QUANTIZATIONS)."""
    try:
        import ctranslate2
    except ImportError:
        raise TextcycleError("CTranslate2 is not installed: pip install ctranslate2") from None
    if quantization not in QUANTIZATIONS:
        raise TextcycleError(f"unknown quantization {quantization!r} (one of: {', '.join(QUANTIZATIONS)})")
    folder = Path(folder)
    source = folder / SOURCE
    if not source.is_file():
        raise TextcycleError(
            f"{folder} is not a textcycle model folder (no generators.safetensors): save the model there first"
        )
    pieces = vocabulary(model)
    with atomic_dir(folder / CT2_DIR) as tmp:
        files = {}
        for t in (0, 1):
            out = tmp / f"to_{t}"
            try:
                _convert(model.generators[t], pieces, out, quantization)
            except TextcycleError:
                raise
            except Exception as e:  # converter errors (unsupported layer, bad option) as one line
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise TextcycleError(f"CTranslate2 conversion of generator to_{t} failed: {msg}") from None
            for f in sorted(out.iterdir()):
                files[f"to_{t}/{f.name}"] = file_entry(f)
        manifest = {
            "format": FORMAT_VERSION,
            "quantization": quantization,
            "ctranslate2_version": ctranslate2.__version__,
            "vocab_size": len(pieces),
            "source": {SOURCE: file_entry(source)},
            "files": files,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return folder / CT2_DIR


def folder_size(path: str | Path) -> int:
    """Bytes of all files under `path`."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())
