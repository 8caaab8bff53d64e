"""`python -m textcycle.data` and `import textcycle.data`: moved to `textcycle.text.data` (issue 25);
this path works until 0.2 and is the same module."""

import sys

from .text import data as _moved

if __name__ == "__main__":
    sys.exit(_moved.main())
else:
    sys.modules[__name__] = _moved
