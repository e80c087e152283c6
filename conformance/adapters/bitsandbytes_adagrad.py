"""Target spec for bitsandbytes' ``Adagrad``, ``Adagrad32bit`` and ``Adagrad8bit`` (0.50.x,
``bitsandbytes.optim``; pure-torch kernels on CPU). ``pip install -c constraints.txt -e
'.[bitsandbytes]'``; ``check bitsandbytes.optim:Adagrad8bit`` (or ``Adagrad``, ``Adagrad32bit``)
uses this spec unless ``--target-spec`` says otherwise.

- Constructor ``(params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
  eps=1e-10, optim_bits=32, args=None, min_8bit_size=4096)``: ``lr_decay != 0`` and
  ``initial_accumulator_value != 0`` raise ``ValueError`` (*unsupported*, with the library's
  message); no ``maximize``, ``foreach``, ``fused``, ``differentiable`` (TypeError: unsupported).
- State, created lazily at a parameter's first step: ``state[p]["step"]`` (a Python int) and
  ``state[p]["state1"]``, torch's ``sum``: float32 whatever the param's dtype (``sum_dtype``); in the 8-bit
  optimizer, for a parameter of ``min_8bit_size`` (4,096) elements or more, a uint8 code per
  element into ``state[p]["qmap1"]`` (256 values) scaled by ``state[p]["absmax1"]`` per block of
  256 elements (blockwise dynamic quantization). :func:`dequantize` reads it as bitsandbytes'
  own ``dequantize_blockwise`` does; :func:`write` quantizes a loaded start the same way.
- Claims: everything (its float32 state is what the suite is there to show).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from adagrad.conformance.engine.state_mapping import StateMapping
from adagrad.conformance.engine.target_spec import TargetSpec

__all__ = ["BLOCKSIZE", "SPEC", "dequantize", "write"]

#: Elements per absmax block of bitsandbytes' 8-bit optimizer state.
BLOCKSIZE = 256


def dequantize(entry: Mapping[str, Any]) -> Any:
    """The accumulator a state entry holds: ``state1`` (float32), or dequantized from its 8-bit codes."""
    s = entry["state1"]
    if s.dtype.is_floating_point:
        return s
    scale = entry["absmax1"].repeat_interleave(BLOCKSIZE)[: s.numel()].reshape(s.shape)
    return entry["qmap1"][s.long()] * scale


def write(opt: Any, start: Sequence[tuple[Any, int]]) -> None:
    """Load ``(sum, step)`` per parameter: the optimizer's own state initialisation, then the values
    (quantized blockwise in the 8-bit state)."""
    import torch

    pairs = iter(start)
    for gi, group in enumerate(opt.param_groups):
        for pi, p in enumerate(group["params"]):
            total, step = next(pairs)
            opt.init_state(group, p, gi, pi)
            state = opt.state[p]
            state["step"] = int(step)
            if state["state1"].dtype == torch.uint8:
                from bitsandbytes.functional import quantize_blockwise

                codes, quant = quantize_blockwise(total.float().contiguous(), code=state["qmap1"], blocksize=BLOCKSIZE)
                state["state1"].copy_(codes.reshape(state["state1"].shape))
                state["absmax1"].copy_(quant.absmax)
            else:
                state["state1"].copy_(total.to(state["state1"].dtype))


SPEC = TargetSpec(
    state=StateMapping(
        sum_key="state1", step_key="step", step_type="int", sum_dtype="float32", sum_transform=dequantize, write=write
    ),
    name="adagrad.conformance.adapters.bitsandbytes_adagrad:SPEC",
)
