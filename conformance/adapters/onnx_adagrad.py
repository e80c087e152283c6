"""ONNX's training-domain Adagrad op (``ai.onnx.preview.training``), run by onnx's reference evaluator.

The op computes, per tensor (onnx operator docs)::

    r = R / (1 + T * decay_factor)           T: updates done before this one
    g = norm_coefficient * X + G
    H = H + g * g
    X = X - r * g / (sqrt(H) + epsilon)

Mapping: lr -> R, lr_decay -> decay_factor, weight_decay -> norm_coefficient, eps -> epsilon,
initial_accumulator_value -> the initial H (the caller owns H), t - 1 -> T. ``maximize`` has
no counterpart. Use: ``check --adapter functional adagrad.conformance.adapters.onnx_adagrad:OnnxAdagrad``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from adagrad.conformance.adapters.base import Unsupported
from adagrad.conformance.adapters.stateless_op import StatelessOp

__all__ = ["OnnxAdagrad"]

_ONNX_TYPES = {"float64": 11, "float32": 1, "float16": 10}  # TensorProto element types


@lru_cache(maxsize=64)
def _evaluator(dtype: str, decay_factor: float, epsilon: float, norm_coefficient: float) -> Any:
    """A reference evaluator for one Adagrad node over tensors of ``dtype``."""
    from onnx import TensorProto, helper
    from onnx.reference import ReferenceEvaluator

    node = helper.make_node(
        "Adagrad",
        ["R", "T", "X", "G", "H"],
        ["X_new", "H_new"],
        domain="ai.onnx.preview.training",
        decay_factor=decay_factor,
        epsilon=epsilon,
        norm_coefficient=norm_coefficient,
    )
    elem = _ONNX_TYPES[dtype]
    graph = helper.make_graph(
        [node],
        "adagrad",
        [
            helper.make_tensor_value_info("R", elem, []),
            helper.make_tensor_value_info("T", TensorProto.INT64, []),
            helper.make_tensor_value_info("X", elem, None),
            helper.make_tensor_value_info("G", elem, None),
            helper.make_tensor_value_info("H", elem, None),
        ],
        [helper.make_tensor_value_info("X_new", elem, None), helper.make_tensor_value_info("H_new", elem, None)],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.preview.training", 1)]
    )
    return ReferenceEvaluator(model)


class OnnxAdagrad(StatelessOp):
    """The functional protocol over onnx's reference Adagrad op."""

    library = "the ONNX Adagrad op"
    lacks = {"maximize": "no maximize attribute"}

    def check_params(self, params: Sequence[np.ndarray]) -> None:
        for p in params:
            if p.dtype.name not in _ONNX_TYPES:
                raise Unsupported(
                    f"{p.dtype.name} parameters (the reference evaluator's Adagrad takes float, double, float16)"
                )

    def update(
        self, p: np.ndarray, g: np.ndarray, s: np.ndarray, t: int, h: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        ev = _evaluator(p.dtype.name, float(h["lr_decay"]), float(h["eps"]), float(h["weight_decay"]))
        x_new, h_new = ev.run(
            None, {"R": np.array(h["lr"], dtype=p.dtype), "T": np.array(t, dtype=np.int64), "X": p, "G": g, "H": s}
        )
        return np.asarray(x_new), np.asarray(h_new)
