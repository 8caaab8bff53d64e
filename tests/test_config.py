"""Configs (textcycle.config): YAML into dataclasses, overrides, validation with the allowed
range in the message, and the architecture check of a resumed run."""

from pathlib import Path

import pytest

from textcycle.config import load_config, save_config, to_dict
from textcycle.errors import ConfigError
from textcycle.text.config import TextCycleConfig, architecture_changes, validate_text_config

REPO = Path(__file__).resolve().parents[1]


def test_yaml_overrides_and_round_trip(tmp_path):
    cfg = load_config(REPO / "configs" / "tiny.yaml", TextCycleConfig, ["train.rl_steps=3", "data.style_names=[a, b]"])
    assert cfg.train.rl_steps == 3 and cfg.data.style_names == ["a", "b"]
    save_config(cfg, tmp_path / "c.yaml")
    assert to_dict(load_config(tmp_path / "c.yaml", TextCycleConfig)) == to_dict(cfg)


@pytest.mark.parametrize(
    "override, msg",
    [
        ("train.no_such=1", "unknown key"),
        ("train.lr=abc", "expected a number"),
        ("train.steps", "expected key=value"),
        ("train=3", "expected a mapping"),
    ],
)
def test_bad_keys_and_types(override, msg):
    with pytest.raises(ConfigError, match=msg):
        load_config(REPO / "configs" / "tiny.yaml", TextCycleConfig, [override])


def test_exponent_without_a_dot_is_a_number(tmp_path):
    # bug: YAML 1.1 reads 1e-5 as a string, so `-o train.rl_lr=1e-5` was "expected a number"
    cfg = load_config(REPO / "configs" / "tiny.yaml", TextCycleConfig, ["train.rl_lr=1e-5", "train.lr=2E-4"])
    assert cfg.train.rl_lr == 1e-5 and cfg.train.lr == 2e-4
    (tmp_path / "c.yaml").write_text("train:\n  rl_lr: 3e-6\n")
    assert load_config(tmp_path / "c.yaml", TextCycleConfig).train.rl_lr == 3e-6


def test_every_shipped_text_config_validates():
    for name in ("tiny", "yelp", "zh-reviews", "ptt"):
        validate_text_config(load_config(REPO / "configs" / f"{name}.yaml", TextCycleConfig))


@pytest.mark.parametrize(
    "override, msg",
    [
        ("train.batch_size=0", "allowed 1"),
        ("train.sample_temperature=.nan", "out of range"),
        ("train.baseline=foo", "allowed greedy, mean"),
        ("generator.attention_heads=3", "divisible"),
        ("tokenizer.max_length=100", "max_position_embeddings"),
        ("train.rl_steps=0", None),
    ],
)
def test_validation(override, msg):
    cfg = load_config(REPO / "configs" / "tiny.yaml", TextCycleConfig, [override])
    if msg is None:
        validate_text_config(cfg)
    else:
        with pytest.raises(ConfigError, match=msg):
            validate_text_config(cfg)


def test_architecture_changes_names_the_keys():
    a = to_dict(TextCycleConfig())
    b = to_dict(TextCycleConfig())
    b["generator"]["d_model"] = 128
    b["train"]["lr"] = 1.0  # not an architecture key
    assert architecture_changes(a, b) == ["generator.d_model: 256 -> 128"]


def test_packaged_configs_by_name(tmp_path, monkeypatch):
    # bug: configs/ was not in the wheel, so the README's train commands needed a checkout
    from textcycle.config import PACKAGED_CONFIGS, resolve_config

    monkeypatch.chdir(tmp_path)  # no checkout here
    assert resolve_config("yelp") == PACKAGED_CONFIGS / "yelp.yaml"
    assert resolve_config("configs/yelp.yaml") == PACKAGED_CONFIGS / "yelp.yaml"
    assert load_config("tiny", TextCycleConfig).train.output_dir == "runs/tiny"
    with pytest.raises(ConfigError, match="packaged config by name"):
        resolve_config("no-such-config")


def test_the_wheel_ships_configs_and_bundled_models(tmp_path):
    import subprocess
    import sys
    import zipfile

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if r.returncode != 0 and "No module named" in r.stderr:
        pytest.skip(f"cannot build a wheel here: {r.stderr.strip().splitlines()[-1]}")
    assert r.returncode == 0, r.stderr[-2000:]
    names = zipfile.ZipFile(next(tmp_path.glob("*.whl"))).namelist()
    assert "textcycle/configs/yelp.yaml" in names and "textcycle/configs/zh-reviews.yaml" in names
    assert "textcycle/pretrained/yelp/config.json" in names


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads_and_validates(path):
    """A config in configs/ that its own loader refuses is a recipe nobody can run."""
    from textcycle.image.config import ImageConfig, validate
    from textcycle.text.lm_config import LMRecipe, validate_lm_config

    if path.name.endswith("-lm.yaml"):
        cfg = validate_lm_config(load_config(path, LMRecipe))
        assert cfg.train.output_dir.startswith("runs/")
    elif path.name.startswith(("horse2zebra", "image", "mnist")):
        validate(load_config(path, ImageConfig))
    else:
        validate_text_config(load_config(path, TextCycleConfig))


def test_a_text_config_of_either_method_loads_by_its_sections(tmp_path):
    """split_eval and bundle read a PTT config of the LM method as well as the small method's."""
    from textcycle.text.lm_config import LMRecipe, load_text_config

    assert isinstance(load_text_config(REPO / "configs" / "ptt-lm.yaml"), LMRecipe)
    assert isinstance(load_text_config(REPO / "configs" / "ptt-stock.yaml"), TextCycleConfig)
    (tmp_path / "bad.yaml").write_text("model: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_text_config(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="unknown key"):
        load_text_config(REPO / "configs" / "horse2zebra-128.yaml")  # an image config is neither
