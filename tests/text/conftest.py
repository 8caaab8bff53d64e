"""The text tests run torch on one thread (the tiny LM base is in tests/conftest.py)."""

import torch

torch.set_num_threads(1)
