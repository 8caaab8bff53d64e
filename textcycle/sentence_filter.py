"""`python -m textcycle.sentence_filter` and `import textcycle.sentence_filter`: moved to `textcycle.text.sentence_filter` (issue 25);
this path works until 0.2 and is the same module."""

import sys

from .text import sentence_filter as _moved

if __name__ == "__main__":
    sys.exit(_moved.main())
else:
    sys.modules[__name__] = _moved
