"""Confirm, outside the suite, what ONNX's training-domain Adagrad computes for float64 tensors
(``ai.onnx.preview.training.Adagrad`` run by onnx's reference evaluator).

Expected (the diagnosis of ``check ... onnx_adagrad:OnnxAdagrad``): epsilon, decay_factor and
norm_coefficient are FLOAT attributes, so held in float32, while the lr (input R) and the
accumulator (input H) keep the tensors' dtype; and the weight-decay term
norm_coefficient * X is added even when it is 0, so a NaN or infinite parameter makes the
accumulator NaN.

    .venv/bin/python tools/confirm/onnx_update.py
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
from _formulas import GRADS, P0, adagrad, compare, f32
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator


def evaluator(decay: float, eps: float, wd: float) -> tuple[ReferenceEvaluator, onnx.NodeProto]:
    node = helper.make_node(
        "Adagrad",
        ["R", "T", "X", "G", "H"],
        ["X_new", "H_new"],
        domain="ai.onnx.preview.training",
        decay_factor=decay,
        epsilon=eps,
        norm_coefficient=wd,
    )
    d = TensorProto.DOUBLE
    inputs = [helper.make_tensor_value_info(n, d, None) for n in ("R", "X", "G", "H")]
    inputs.insert(1, helper.make_tensor_value_info("T", TensorProto.INT64, []))
    outputs = [helper.make_tensor_value_info(n, d, None) for n in ("X_new", "H_new")]
    graph = helper.make_graph([node], "adagrad", inputs, outputs)
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.preview.training", 1)]
    return ReferenceEvaluator(helper.make_model(graph, opset_imports=opsets)), node


def run(lr, tau, eps, wd, decay, p0=P0, grads=GRADS) -> tuple[np.ndarray, np.ndarray]:
    ev, _ = evaluator(decay, eps, wd)
    x, h = np.array(p0, dtype=np.float64), np.full(len(p0), tau)
    for t, g in enumerate(grads):
        x, h = ev.run(None, {"R": np.array(lr), "T": np.array(t, dtype=np.int64), "X": x, "G": g, "H": h})
    return np.asarray(x), np.asarray(h)


def main() -> None:
    warnings.simplefilter("ignore", RuntimeWarning)  # 0 * nan in the evaluator: that is the point
    _, node = evaluator(0.5, 0.1, 0.05)
    kinds = ", ".join(f"{a.name} {onnx.AttributeProto.AttributeType.Name(a.type)}" for a in node.attribute)
    print(f"onnx {onnx.__version__} reference evaluator, float64 tensors, 3 steps; attributes: {kinds}")
    h = dict(lr=0.1, tau=0.3, eps=0.1, wd=0.05, lr_decay=0.5)
    got, _ = run(h["lr"], h["tau"], h["eps"], h["wd"], h["lr_decay"])
    compare(
        "  R (lr) 0.1, H0 (tau) 0.3, epsilon 0.1, norm_coefficient 0.05, decay_factor 0.5: largest relative difference from",
        got,
        {
            "torch's rule (R1, R3, R5, R7)": adagrad(**h),
            "eps in float32": adagrad(**{**h, "eps": f32(0.1)}),
            "eps, lr_decay and weight_decay in float32": adagrad(
                **{**h, "eps": f32(0.1), "wd": f32(0.05), "lr_decay": f32(0.5)}
            ),
            "eps, lr_decay, weight_decay, lr and tau in float32": adagrad(
                lr=f32(0.1), tau=f32(0.3), eps=f32(0.1), wd=f32(0.05), lr_decay=f32(0.5)
            ),
        },
    )
    p0 = np.array([np.nan, np.inf, 0.5, 1.0])
    g = [np.array([0.3, 0.3, 0.3, 0.3])]
    x, acc = run(0.1, 0.0, 1e-10, 0.0, 0.0, p0=p0, grads=g)
    print(
        f"  params [nan, inf, 0.5, 1.0], norm_coefficient 0, gradient 0.3: accumulator {acc.tolist()}; "
        f"torch's rule {(g[0] * g[0]).tolist()}: the weight-decay term 0 * X is added when it is 0"
    )


if __name__ == "__main__":
    main()
