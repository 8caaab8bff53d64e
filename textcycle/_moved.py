"""Old import paths of the modules that moved into `textcycle.text` (issue 25), for one release:
`import textcycle.networks` gives the module `textcycle.text.networks` itself. Removed in 0.2;
new code imports the new paths. (The engines changed their interface as they moved, so their old
paths `textcycle.ct2_engine` and `textcycle.torch_engine` are not kept.)
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {
    f"textcycle.{name}": f"textcycle.text.{name}"
    for name in ("method", "model", "networks", "reward", "rl", "selftrain", "textnorm", "tokenizer", "vocab")
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass  # the module was executed under its new name


def install() -> None:
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())  # last: a real module of that name always wins
