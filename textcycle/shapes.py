"""A saved config checked against its saved weights before the network is built for real.

A config.json edited within its allowed ranges (vocab_size 1,000,000; an image model's ngf
1e9) would otherwise make torch allocate gigabytes, or fail with a traceback, for weights that
are not in the file. Built on the meta device, the network costs no memory, and its shapes say
whether the file's tensors fit it. The text and image model loaders both use it.
"""

from __future__ import annotations

import torch

from .errors import TextcycleError


def check_shapes(build, state_dict: dict, what: str) -> None:
    """`build()` (a network from the saved config) on the meta device against the tensors of
    `state_dict`: a shape that differs is one line, `what` (e.g. "FOLDER: generator weights")
    "do not match the config (...)". Keys missing on either side are left to `load_state_dict`."""
    with torch.device("meta"):
        expected = build().state_dict()
    for k, v in expected.items():
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape):
            raise TextcycleError(
                f"{what} do not match the config (size mismatch for {k}: "
                f"{tuple(state_dict[k].shape)} in the file, {tuple(v.shape)} by the config)"
            )
