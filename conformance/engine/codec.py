"""Exact JSON encoding of the suite's data: arrays, sparse gradients, cases, target trajectories.

Used wherever suite data crosses a process boundary (the oracle process, the report's diagnosis
records). Arrays travel as their little-endian bytes in base64, so every bit survives, NaN
payloads and signed zeros included. A target's results travel as the bit patterns of its own
dtype (see :mod:`.tensor_bits`) and are decoded to float64 only in the oracle's process.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np

from adagrad.conformance.engine.case import Case, TargetStep, Trajectory
from adagrad.reference import SparseGrad

__all__ = ["decode_array", "decode_case", "decode_trajectory", "encode_array", "encode_case", "encode_trajectory"]

_KINDS = {"float64": "<f8", "complex128": "<c16", "int64": "<i8", "int32": "<i4", "int16": "<i2", "bool": "|b1"}


def encode_array(x: Any) -> dict[str, Any]:
    """``{"dtype", "shape", "data"}`` with the array's bytes in base64."""
    a = np.asarray(x)
    name = a.dtype.name
    if name not in _KINDS:
        a = a.astype(np.complex128 if np.iscomplexobj(a) else np.float64)
        name = a.dtype.name
    raw = np.ascontiguousarray(a, dtype=_KINDS[name]).tobytes()
    return {"dtype": name, "shape": list(a.shape), "data": base64.b64encode(raw).decode("ascii")}


def decode_array(d: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array`; raises ``ValueError`` on a malformed entry."""
    try:
        kind = _KINDS[d["dtype"]]
        shape = tuple(int(n) for n in d["shape"])
        raw = base64.b64decode(d["data"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed array entry: {exc}") from None
    a = np.frombuffer(raw, dtype=kind)
    if a.size != int(np.prod(shape, dtype=np.int64)):
        raise ValueError(f"array data has {a.size} values for shape {shape}")
    return a.reshape(shape).astype(np.dtype(kind).newbyteorder("="))


def _encode_grad(g: Any) -> Any:
    if g is None:
        return None
    if isinstance(g, SparseGrad):
        return {
            "sparse": True,
            "indices": encode_array(np.asarray(g.indices, dtype=np.int64)),
            "values": encode_array(g.values),
            "shape": list(g.shape),
        }
    return encode_array(g)


def _decode_grad(d: Any) -> Any:
    if d is None:
        return None
    if d.get("sparse"):
        return SparseGrad(decode_array(d["indices"]), decode_array(d["values"]), tuple(d["shape"]))
    return decode_array(d)


def encode_case(case: Case) -> dict[str, Any]:
    """A JSON-ready dict holding every field of ``case`` exactly."""
    return {
        "dtype": case.dtype,
        "params": [encode_array(p) for p in case.params],
        "grads": [[_encode_grad(g) for g in step] for step in case.grads],
        "groups": case.groups,
        "options": case.options,
        "edits": [[int(k), [list(e) for e in v]] for k, v in case.edits.items()],
        "start": None if case.start is None else [[encode_array(s), int(t)] for s, t in case.start],
        "lr_tensor_dtype": case.lr_tensor_dtype,
        "device": case.device,
    }


def decode_case(d: dict[str, Any]) -> Case:
    """Inverse of :func:`encode_case`."""
    return Case(
        dtype=d["dtype"],
        params=[decode_array(p) for p in d["params"]],
        grads=[[_decode_grad(g) for g in step] for step in d["grads"]],
        groups=[dict(g) for g in d["groups"]],
        options=dict(d["options"]),
        edits={int(k): [tuple(e) for e in v] for k, v in d["edits"]},
        start=None if d["start"] is None else [(decode_array(s), int(t)) for s, t in d["start"]],
        lr_tensor_dtype=d["lr_tensor_dtype"],
        device=d.get("device", "cpu"),
    )


def encode_trajectory(trajectory: Trajectory) -> list[dict[str, Any]]:
    """A target's steps: per step the params' and sums' bit patterns with their dtypes, and steps."""
    out = []
    for st in trajectory:
        out.append(
            {
                "params": [[dt, encode_array(b)] for dt, b in st.params],
                "sums": [None if s is None else [s[0], encode_array(s[1])] for s in st.sums],
                "steps": [
                    None if s is None else [s[0], encode_array(s[1])] if isinstance(s, tuple) else s for s in st.steps
                ],
                "error": st.error,
                "state_unread": st.state_unread,
            }
        )
    return out


def decode_trajectory(data: list[dict[str, Any]]) -> Trajectory:
    """Inverse of :func:`encode_trajectory` (bit patterns stay bit patterns)."""
    steps = []
    for st in data:
        steps.append(
            TargetStep(
                params=[(dt, decode_array(b)) for dt, b in st["params"]],
                sums=[None if s is None else (s[0], decode_array(s[1])) for s in st["sums"]],
                steps=[(s[0], decode_array(s[1])) if isinstance(s, list) else s for s in st["steps"]],
                error=st.get("error"),
                state_unread=bool(st.get("state_unread", False)),
            )
        )
    return steps
