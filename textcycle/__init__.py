"""textcycle: unpaired style transfer for text (and images), CycleGAN-style.

    from textcycle import Rewriter
    Rewriter.from_pretrained("yelp").rewrite(["the food was cold"], to="positive")

Names are imported on first use, so `import textcycle` stays fast.
"""

__version__ = "0.1.0"

_LAZY = {
    "Rewriter": "textcycle.rewriter",
    "ModelFolder": "textcycle.model_folder",
    "TextCycleModel": "textcycle.text.model",
    "TextcycleTokenizer": "textcycle.text.tokenizer",
    "load_corpus": "textcycle.text.data",
    "load_config": "textcycle.config",
    "TextCycleConfig": "textcycle.text.config",
    "TextcycleError": "textcycle.errors",
}

__all__ = list(_LAZY)

from . import _moved  # noqa: E402 - old module paths for one release (see _moved.py)

_moved.install()


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'textcycle' has no attribute {name!r}")
