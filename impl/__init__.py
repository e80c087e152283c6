"""``adagrad.impl``: a production Adagrad, a drop-in for ``torch.optim.Adagrad``.

- :mod:`.optimizer`: :class:`Adagrad`, the optimizer class.
- :mod:`.functional`: :func:`adagrad`, the functional core that dispatches to one path:
  :mod:`.for_loop`, :mod:`.foreach`, :mod:`.fused_cpu` or :mod:`.triton_kernel`.
- :mod:`.targets`: factories that force one path, for the conformance suite.

This package never imports ``adagrad.reference``: the two are independent witnesses.
"""

from .functional import adagrad
from .optimizer import Adagrad

__all__ = ["Adagrad", "adagrad"]
