"""Target spec for DeepSpeed's ``deepspeed.ops.adagrad.DeepSpeedCPUAdagrad`` (0.19.x, CPU).

Install (torch first; an isolated build would pull a CUDA torch)::

    pip install -c constraints.txt --no-build-isolation -e '.[deepspeed]'

The first construction JIT-builds a C++ op with g++ and ninja (about 50 s, cached under
``~/.cache/torch_extensions``): the spec's ``warm_up`` builds (or loads) it before any test's
time starts, so that no test is killed mid-build (which would leave the builder's lock file
behind, and every later build waiting on it). ``check deepspeed.ops.adagrad:DeepSpeedCPUAdagrad``
uses this spec unless ``--target-spec`` says otherwise.

- Constructor ``(params, lr=1e-2, eps=1e-10, weight_decay=0, amsgrad=False,
  fp32_optimizer_states=True)``: no ``lr_decay``, ``initial_accumulator_value``, ``maximize``,
  ``foreach``, ``fused``, ``differentiable`` (a case that sets one is refused with TypeError:
  *unsupported*, with DeepSpeed's message).
- State, created lazily at a parameter's first step: ``state[p]["exp_avg_sq"]`` (torch's
  ``sum``, held in float32 whatever the param's dtype) and ``state[p]["step"]`` (a Python int).
- Claims float32, float16 and bfloat16 parameters: a float64 (or complex) parameter raises
  ``RuntimeError: Adagrad optimizer with param type Double and state type Float is not
  supported`` after it created the state and advanced the step (not a clean refusal), so those
  dtypes are left unclaimed.
"""

from __future__ import annotations

from adagrad.conformance.engine.claims import Claims
from adagrad.conformance.engine.state_mapping import StateMapping
from adagrad.conformance.engine.target_spec import TargetSpec

__all__ = ["SPEC", "build_op"]


def build_op() -> None:
    """Build DeepSpeed's CPU Adagrad op, or load it from the cache (what its constructor does first)."""
    from deepspeed.ops.op_builder import CPUAdagradBuilder

    CPUAdagradBuilder().load()


SPEC = TargetSpec(
    state=StateMapping(sum_key="exp_avg_sq", step_key="step", step_type="int", sum_dtype="float32"),
    claims=Claims(dtypes=frozenset({"float32", "float16", "bfloat16"})),
    name="adagrad.conformance.adapters.deepspeed_adagrad:SPEC",
    warm_up=build_op,
)
