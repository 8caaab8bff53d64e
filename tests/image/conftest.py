"""Fixtures of the image tests: tiny image folders and a tiny trained run (1 torch thread)."""

from pathlib import Path

import pytest
import torch

from .helpers import make_dataset, tiny_config

torch.set_num_threads(1)


@pytest.fixture
def tiny(tmp_path) -> Path:
    """trainA/trainB/testA/testB with 6 / 8 / 4 / 4 16x16 images (A dark, B bright)."""
    return make_dataset(tmp_path / "data")


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A finished 1-step run of the tiny model (a run folder with final/), trained once per session.
    Tests only read it."""
    from textcycle.image.config import load_image_config
    from textcycle.image.train import train

    base = tmp_path_factory.mktemp("trained")
    root = make_dataset(base / "data")
    train(load_image_config(tiny_config(base, root, constant_steps=1, decay_steps=0)))
    return base / "run"
