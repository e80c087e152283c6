"""What the diagnosis replays: a failing case and the target's trajectory on it, JSON both ways.

A :class:`Record` is saved in a report (under ``"diagnosis_records"``) so that ``adagrad-conformance
explain REPORT.json`` can re-derive the diagnosis without the target. The encoding is exact:
arrays travel as the base64 of their little-endian bytes (float64, complex128 or int64), floats
that JSON cannot spell (NaN, infinities) as tagged strings, sparse gradients as their indices and
values. Every value that is not a JSON scalar or list is a one-key object naming its type.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from adagrad.conformance.engine.harness import Case
from adagrad.reference import SparseGrad

__all__ = ["Record", "Trajectory", "decode_value", "encode_value", "from_run_state"]

#: The target's (params, sums, steps) after each step, as :func:`~adagrad.conformance.engine.harness.run_target` yields.
Trajectory = list[tuple[list[np.ndarray], list["np.ndarray | None"], list[int]]]

_ARRAY_KINDS = {"float64": "<f8", "complex128": "<c16", "int64": "<i8", "bool": "|b1"}


def _encode_array(x: np.ndarray) -> dict[str, Any]:
    a = np.asarray(x)
    if a.dtype.kind == "b":
        name = "bool"
    elif a.dtype.kind in "iu":
        name = "int64"
    elif a.dtype.kind == "c":
        name = "complex128"
    elif a.dtype.kind == "f":
        name = "float64"
    else:
        raise TypeError(f"cannot encode an array of dtype {a.dtype} (float, complex, integer or bool only)")
    held = a.astype(_ARRAY_KINDS[name])
    if name == "int64" and not np.array_equal(held, a):
        raise ValueError("integer array does not fit int64")
    raw = np.ascontiguousarray(held).tobytes()
    return {"dtype": name, "shape": [int(n) for n in a.shape], "data": base64.b64encode(raw).decode("ascii")}


def _decode_array(d: Any) -> np.ndarray:
    if not isinstance(d, dict) or set(d) != {"dtype", "shape", "data"}:
        raise ValueError(f"an array must be an object with dtype, shape and data, got {_brief(d)}")
    if d["dtype"] not in _ARRAY_KINDS:
        raise ValueError(f"unknown array dtype {d['dtype']!r}; expected one of {', '.join(_ARRAY_KINDS)}")
    if not isinstance(d["shape"], list) or not all(isinstance(n, int) and n >= 0 for n in d["shape"]):
        raise ValueError(f"an array's shape must be a list of non-negative integers, got {_brief(d['shape'])}")
    try:
        raw = base64.b64decode(d["data"], validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"an array's data is not base64: {exc}") from None
    kind = np.dtype(_ARRAY_KINDS[d["dtype"]])
    count = math.prod(d["shape"])
    if len(raw) != count * kind.itemsize:
        raise ValueError(
            f"{d['dtype']} array of shape {d['shape']} needs {count * kind.itemsize} bytes, has {len(raw)}"
        )
    return np.frombuffer(raw, dtype=kind).reshape(d["shape"]).astype(kind.newbyteorder("="))


def _brief(x: Any) -> str:
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


def encode_value(x: Any) -> Any:
    """A JSON-ready form of ``x``: None, bool, int, str, float, list, tuple, dict, ndarray, SparseGrad."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if math.isfinite(v) else {"float": repr(v)}
    if isinstance(x, np.ndarray):
        return {"array": _encode_array(x)}
    if isinstance(x, SparseGrad):
        return {
            "sparse": {
                "indices": _encode_array(np.asarray(x.indices)),
                "values": _encode_array(np.asarray(x.values)),
                "shape": [int(n) for n in x.shape],
            }
        }
    if isinstance(x, list):
        return [encode_value(v) for v in x]
    if isinstance(x, tuple):
        return {"tuple": [encode_value(v) for v in x]}
    if isinstance(x, dict):
        return {"dict": [[encode_value(k), encode_value(v)] for k, v in x.items()]}
    raise TypeError(f"cannot encode a {type(x).__name__} in a diagnosis record")


def decode_value(x: Any) -> Any:
    """Inverse of :func:`encode_value`; ``ValueError`` naming what is malformed."""
    if x is None or isinstance(x, (bool, str, int, float)):
        return x
    if isinstance(x, list):
        return [decode_value(v) for v in x]
    if not isinstance(x, dict) or len(x) != 1:
        raise ValueError(f"malformed value in a diagnosis record: {_brief(x)}")
    ((tag, body),) = x.items()
    if tag == "float":
        if body not in ("nan", "inf", "-inf"):
            raise ValueError(f"a tagged float must be nan, inf or -inf, got {_brief(body)}")
        return float(body)
    if tag == "array":
        return _decode_array(body)
    if tag == "sparse":
        if not isinstance(body, dict) or set(body) != {"indices", "values", "shape"}:
            raise ValueError(f"a sparse gradient needs indices, values and shape, got {_brief(body)}")
        return SparseGrad(
            _decode_array(body["indices"]), _decode_array(body["values"]), tuple(int(n) for n in body["shape"])
        )
    if tag == "tuple":
        if not isinstance(body, list):
            raise ValueError(f"a tuple must be a list, got {_brief(body)}")
        return tuple(decode_value(v) for v in body)
    if tag == "dict":
        if not isinstance(body, list) or not all(isinstance(kv, list) and len(kv) == 2 for kv in body):
            raise ValueError(f"a dict must be a list of [key, value] pairs, got {_brief(body)}")
        return {decode_value(k): decode_value(v) for k, v in body}
    raise ValueError(f"unknown tag {tag!r} in a diagnosis record")


@dataclass
class Record:
    """One failing case and what the target did on it.

    Attributes:
        case: the case's inputs (:class:`~adagrad.conformance.engine.harness.Case`, plain NumPy data).
        trajectory: the target's ``(params, sums, steps)`` after each step, float64 or
            complex128 arrays (a sum is None for a parameter the target has no state for), as
            :func:`~adagrad.conformance.engine.harness.run_target` yields them. It may stop early (at the
            step that failed); the steps present are the ones compared.
        test_id: the test that ran the case (pytest node id), for the report.
    """

    case: Case
    trajectory: Trajectory
    test_id: str

    def to_json(self) -> dict[str, Any]:
        """Plain JSON data; :meth:`from_json` gives back an equal record, bit for bit."""
        case = {f.name: encode_value(getattr(self.case, f.name)) for f in dataclasses.fields(self.case)}
        steps = [
            [
                encode_value([np.asarray(p) for p in params]),
                encode_value([None if s is None else np.asarray(s) for s in sums]),
                [int(t) for t in counts],
            ]
            for params, sums, counts in self.trajectory
        ]
        return {"test_id": self.test_id, "case": case, "trajectory": steps}

    @classmethod
    def from_json(cls, data: Any) -> Record:
        """The record :meth:`to_json` wrote; ``ValueError`` naming what is malformed."""
        if not isinstance(data, dict) or set(data) != {"test_id", "case", "trajectory"}:
            raise ValueError(
                f"a diagnosis record must be an object with test_id, case and trajectory, got {_brief(data)}"
            )
        if not isinstance(data["case"], dict):
            raise ValueError("a diagnosis record's case must be an object")
        known = {f.name for f in dataclasses.fields(Case)}
        unknown = set(data["case"]) - known
        if unknown:
            raise ValueError(f"a diagnosis record's case has unknown field(s): {', '.join(sorted(unknown))}")
        try:
            case = Case(**{k: decode_value(v) for k, v in data["case"].items()})
        except TypeError as exc:
            raise ValueError(f"a diagnosis record's case is incomplete: {exc}") from None
        case.edits = {int(k): [tuple(e) for e in v] for k, v in case.edits.items()}
        if case.start is not None:
            case.start = [tuple(e) for e in case.start]
        if not isinstance(data["trajectory"], list):
            raise ValueError("a diagnosis record's trajectory must be a list of steps")
        traj = []
        for k, step in enumerate(data["trajectory"]):
            if not isinstance(step, list) or len(step) != 3:
                raise ValueError(f"trajectory step {k} must be [params, sums, steps]")
            params, sums, counts = (decode_value(x) for x in step)
            if not all(isinstance(t, int) for t in counts):
                raise ValueError(f"trajectory step {k}: step counts must be integers")
            traj.append((params, sums, counts))
        if not isinstance(data["test_id"], str):
            raise ValueError("a diagnosis record's test_id must be a string")
        return cls(case=case, trajectory=traj, test_id=data["test_id"])


def from_run_state(raw: dict[str, Any]) -> Record:
    """A :class:`Record` from one record a check's oracle services kept (``record-*.json``) (the oracle's failing cases:
    the case encoded by ``engine.codec``, the target's values as bit patterns of its dtypes).

    A complex case's values are pairs (real, imaginary) on a last axis of 2, when the target kept
    the parameter complex; a target that returned real values (the imaginary part dropped) or an
    accumulator of another shape keeps them as they are (the diagnosis then finds them unexplained).
    Steps that raised are left out.
    """
    from adagrad.conformance.engine.codec import decode_case, decode_trajectory
    from adagrad.conformance.engine.tensor_bits import decode_bits

    case = decode_case(raw["case"])
    shapes = [np.shape(p) for p in case.params]
    cplx = case.dtype.startswith("complex")

    def values(bits: Any, i: int) -> np.ndarray | None:
        if bits is None:
            return None
        v = decode_bits(bits[1], bits[0])
        if cplx and i < len(shapes) and v.shape == (*shapes[i], 2):
            return v[..., 0] + 1j * v[..., 1]
        return v

    def count(s: Any) -> int:
        return int(decode_bits(s[1], s[0]).ravel()[0]) if isinstance(s, tuple) else int(s or 0)

    trajectory = [
        (
            [values(b, i) for i, b in enumerate(st.params)],
            [values(b, i) for i, b in enumerate(st.sums)],
            [count(s) for s in st.steps],
        )
        for st in decode_trajectory(raw["trajectory"])
        if not st.error
    ]
    return Record(case=case, trajectory=trajectory, test_id=raw["test_id"])
