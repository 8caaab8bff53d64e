"""`python -m textcycle.train --config ...`: train a text model (also `accelerate launch -m
textcycle.train`). The run is `textcycle.text.train`; this is its command, where the README and
the recipes call it, and the same module (`import textcycle.train` gives `textcycle.text.train`)."""

import sys

from .text import train as _run

if __name__ == "__main__":
    sys.exit(_run.main())
else:
    sys.modules[__name__] = _run
