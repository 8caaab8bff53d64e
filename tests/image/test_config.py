"""textcycle.image.config: the options, their checks, the shipped configs."""

import pytest

from textcycle.errors import TextcycleError
from textcycle.image.config import load_image_config, validate_for_training

from .helpers import REPO


def test_config_errors():
    with pytest.raises(TextcycleError, match="unknown key"):
        load_image_config(None, ["model.nfg=3"])
    with pytest.raises(TextcycleError, match="g_norm"):
        load_image_config(None, ["model.g_norm=layer"])


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.batch_size=0", "train.batch_size must be >= 1"),
        ("train.log_every=0", "train.log_every must be >= 1"),  # was a ZeroDivisionError in the loop
        ("train.save_every=0", "train.save_every must be >= 1"),
        ("train.keep_checkpoints=0", "train.keep_checkpoints must be >= 1"),  # was an error at the first save
        ("train.lr=0", "train.lr must be > 0"),
        ("train.lr=fast", "expected a number"),
        ("train.mixed_precision=fp8", "train.mixed_precision"),
        ("data.crop_size=4", "too small for model.n_downsampling"),
    ],
)
def test_bad_values_are_config_errors(override, message):
    with pytest.raises(TextcycleError, match=message):
        load_image_config(None, ["data.load_size=16", "data.crop_size=16", override])


def test_patchgan_too_large_for_the_crop_is_an_error_for_training_only():
    cfg = load_image_config(None, ["data.load_size=16", "data.crop_size=16"])  # d_layers 3: a 16 px model can translate
    with pytest.raises(TextcycleError, match="too small for a PatchGAN"):
        validate_for_training(cfg)  # ... but its 70x70 PatchGAN has no patch left at 16 px


@pytest.mark.parametrize("name", ["horse2zebra-64", "image-tiny", "mnist-thick"])
def test_shipped_configs_load(name):
    cfg = validate_for_training(load_image_config(REPO / "configs" / f"{name}.yaml"))
    assert cfg.train.threads == 1 and cfg.train.mixed_precision == "no"
