"""TextCycleModel: the two generators, the discriminator and the tokenizer as one folder.

`save_pretrained(dir)` writes:
- `config.json`        style names, language, max length, the BART config, the discriminator config
- `tokenizer.model`    the SentencePiece vocabulary (+ `tokenizer_config.json`)
- `generators.safetensors`  G_xy ("to_1.*") and G_yx ("to_0.*"); their shared token embedding
                            is stored once ("shared.weight")
- `discriminator.safetensors`
- `ct2/`                  CTranslate2 copies of both generators for the fast engine (`ct2_export`)
`textcycle.model_folder.ModelFolder` knows these names and checks config.json.
`from_pretrained(dir)` reads it back (safetensors only, never pickle). Each generator is a plain
`BartForConditionalGeneration`, so `model.generators[1].save_pretrained(...)` also works.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn as nn
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from transformers import BartConfig, BartForConditionalGeneration

from ..errors import TextcycleError
from ..files import atomic_dir
from ..model_folder import DISCRIMINATOR, GENERATORS, TOKENIZER, ModelFolder
from ..shapes import check_shapes
from .networks import StyleDiscriminator, StyleDiscriminatorConfig, share_embeddings
from .tokenizer import TextcycleTokenizer

EMBED_KEYS = (
    "model.shared.weight",
    "model.encoder.embed_tokens.weight",
    "model.decoder.embed_tokens.weight",
    "lm_head.weight",
)


class TextCycleModel(nn.Module):
    """generators[t] rewrites into style t: generators[1] = G_xy (0 -> 1), generators[0] = G_yx."""

    def __init__(
        self,
        generators,
        discriminator: StyleDiscriminator,
        tokenizer: TextcycleTokenizer,
        style_names: list,
        language: str = "en",
        max_length: int = 40,
        script: str | None = None,
        reward: dict | None = None,
    ):
        super().__init__()
        self.generators = nn.ModuleList(generators)
        self.discriminator = discriminator
        self.tokenizer = tokenizer
        self.style_names = list(style_names)
        self.language = language
        self.max_length = max_length
        self.script = script  # Chinese: "simplified" / "traditional", the training text's script
        # the training reward's weights, so `--rerank` scores candidates as training did
        self.reward = {"style_weight": 1.0, "content_weight": 1.0, **(reward or {})}

    def save_pretrained(
        self,
        path: str | Path,
        dtype: torch.dtype = torch.float32,
        card: str | None = None,
        ctranslate2: str | None = "int8_embed_float16",
    ) -> None:
        """Write the folder (atomically). `ctranslate2`: also write CTranslate2 copies of both
        generators (`ct2/`, for the fast engine) in that quantization, made from exactly the
        weights saved here; None leaves them out (checkpoints during training)."""
        path = Path(path)
        with atomic_dir(path) as tmp:
            g1, g0 = self.generators[1], self.generators[0]
            tensors = {"shared.weight": g1.get_input_embeddings().weight}
            for t, g in ((0, g0), (1, g1)):
                for k, v in g.state_dict().items():
                    if k not in EMBED_KEYS and not k.endswith("final_logits_bias"):
                        tensors[f"to_{t}.{k}"] = v
            tensors = {k: v.detach().to(dtype).contiguous().clone() for k, v in tensors.items()}
            save_file(tensors, str(tmp / "generators.safetensors"), metadata={"format": "pt"})
            disc = {k: v.detach().to(dtype).contiguous() for k, v in self.discriminator.state_dict().items()}
            save_file(disc, str(tmp / "discriminator.safetensors"), metadata={"format": "pt"})
            self.tokenizer.save_pretrained(str(tmp))
            config = {
                "model_type": "textcycle",
                "style_names": self.style_names,
                "language": self.language,
                "max_length": self.max_length,
                "script": self.script,
                "reward": self.reward,
                "generator": g1.config.to_dict(),
                "discriminator": self.discriminator.config.__dict__,
                "torch_dtype": str(dtype).replace("torch.", ""),
            }
            (tmp / "config.json").write_text(json.dumps(config, indent=1, ensure_ascii=False), encoding="utf-8")
            if card:
                (tmp / "README.md").write_text(card, encoding="utf-8")
            if ctranslate2:
                from ..engines.ct2_convert import export_ctranslate2

                saved = self if dtype == torch.float32 else TextCycleModel.from_pretrained(tmp)
                export_ctranslate2(saved, tmp, ctranslate2)

    @classmethod
    def from_pretrained(cls, folder: "ModelFolder | str | Path | None" = None) -> "TextCycleModel":
        """A model folder (a ModelFolder, or a name or path that `ModelFolder.open` resolves)."""
        folder = ModelFolder.open(folder)
        path = folder.path
        if folder.kind != "small":
            raise TextcycleError(f"{path} is an LM model: load it with textcycle.text.lm_model.LMGenerators")
        for f in (TOKENIZER, GENERATORS, DISCRIMINATOR):
            folder.file(f)
        config, bart_config, dcfg = folder.config, *network_configs(folder)
        try:
            tensors = load_file(str(path / GENERATORS))
            disc_sd = load_file(str(path / DISCRIMINATOR))
        except (SafetensorError, OSError) as e:
            raise TextcycleError(f"{path}: corrupt weights ({e})") from None
        tokenizer = TextcycleTokenizer.from_dir(path)
        gens = []
        for t in (0, 1):
            sd = {k[len(f"to_{t}.") :]: v.float() for k, v in tensors.items() if k.startswith(f"to_{t}.")}
            sd["model.shared.weight"] = tensors.get("shared.weight", torch.zeros(0)).float()
            check_shapes(lambda: BartForConditionalGeneration(bart_config), sd, f"{path}: generator weights")
            g = BartForConditionalGeneration(bart_config)
            try:
                missing, unexpected = g.load_state_dict(sd, strict=False)
            except RuntimeError as e:  # a size mismatch: config.json was edited, or belongs elsewhere
                raise TextcycleError(
                    f"{path}: generator weights do not match config.json ({_first_mismatch(e)})"
                ) from None
            bad = [m for m in missing if m not in EMBED_KEYS and not m.endswith("final_logits_bias")]
            if bad or unexpected:
                raise TextcycleError(
                    f"{path}: weights do not match the config (missing {bad[:3]}, unexpected {unexpected[:3]})"
                )
            g.tie_weights()
            gens.append(g.eval())
        share_embeddings(gens[1], gens[0])
        disc_sd = {k: v.float() for k, v in disc_sd.items()}
        check_shapes(lambda: StyleDiscriminator(dcfg), disc_sd, f"{path}: discriminator weights")
        disc = StyleDiscriminator(dcfg)
        try:
            disc.load_state_dict(disc_sd)
        except RuntimeError as e:
            raise TextcycleError(
                f"{path}: discriminator weights do not match config.json ({_first_mismatch(e)})"
            ) from None
        language, script = config["language"], config["script"]
        if language == "zh" and script is None:  # older folders: the vocabulary tells the script
            from .textnorm import vocab_script

            script = vocab_script(tokenizer.sp_model)
        if tokenizer.sp_model.get_piece_size() != bart_config.vocab_size:
            raise TextcycleError(
                f"{path}: tokenizer.model has {tokenizer.sp_model.get_piece_size()} pieces but "
                f"config.json says vocab_size {bart_config.vocab_size}"
            )
        return cls(
            gens,
            disc.eval(),
            tokenizer,
            config["style_names"],
            language,
            config["max_length"],
            script,
            config["reward"],
        )


def _first_mismatch(e: Exception) -> str:
    """The first informative line of torch's load_state_dict error (it lists every tensor)."""
    lines = [ln.strip() for ln in str(e).splitlines() if "size mismatch" in ln or "Missing" in ln]
    return (lines[0] if lines else str(e).splitlines()[0])[:200]


def network_configs(folder: ModelFolder):
    """The BART config and the discriminator config of a folder's (checked) config.json. Every
    wrong field is a one-line TextcycleError, never a traceback later on."""
    try:
        gcfg = {
            k: v for k, v in folder.config["generator"].items() if k not in ("transformers_version", "architectures")
        }
        bart_config = BartConfig(**gcfg)
        dcfg = StyleDiscriminatorConfig(**folder.config["discriminator"])
    except (TypeError, ValueError) as e:
        raise TextcycleError(f"{folder.path / 'config.json'}: bad generator or discriminator settings ({e})") from None
    return bart_config, dcfg
