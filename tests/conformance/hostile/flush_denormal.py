"""At import, sets flush-to-zero (for NumPy too); its step then flushes subnormal results."""

import torch
from torch.optim import Adagrad as _Adagrad

torch.set_flush_denormal(True)


class Adagrad(_Adagrad):
    pass
