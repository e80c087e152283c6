"""``adagrad.impl``: a production Adagrad, a drop-in for ``torch.optim.Adagrad``.

- :mod:`.optimizer`: :class:`Adagrad`, the optimizer class.
- :mod:`.functional`: :func:`adagrad`, the functional core that dispatches to one path:
  :mod:`.for_loop`, :mod:`.foreach`, :mod:`.fused_cpu` or :mod:`.triton_kernel` (its tables in
  :mod:`.triton_tables`, its Triton source in :mod:`.triton_jit`), each with the one signature
  :class:`.path.UpdatePath`.
- :mod:`.copies`: the working copies paths compute on (half precision in float32, contiguous
  copies for the kernels) and the fused paths' epilogue; :mod:`.common`: the other shared helpers.
- :mod:`.targets`: factories that force one path, for the conformance suite.

This package never imports ``adagrad.reference``: the two are independent witnesses.
"""

from .functional import adagrad
from .optimizer import Adagrad

__all__ = ["Adagrad", "adagrad"]
