"""textcycle: unpaired style transfer for text (and images), CycleGAN-style.

    from textcycle import Rewriter
    Rewriter.from_pretrained("yelp").rewrite(["the food was cold"], to="positive")

Names are imported on first use, so `import textcycle` stays fast.
"""

__version__ = "0.1.0"

_LAZY = {
    "Rewriter": "textcycle.rewrite",
    "TextCycleModel": "textcycle.model",
    "TextcycleTokenizer": "textcycle.tokenizer",
    "load_corpus": "textcycle.data",
    "load_config": "textcycle.config",
    "TextCycleConfig": "textcycle.config",
    "TextcycleError": "textcycle.errors",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'textcycle' has no attribute {name!r}")
