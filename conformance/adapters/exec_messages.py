"""The subprocess protocol's messages: arrays in the fixture encoding, the failures a program
can cause, and what it printed, quoted short.

Arrays use :mod:`adagrad.fixtures.encoding` (dtype, shape and big-endian hex bit patterns), so
every value, NaN and -0.0 included, crosses exactly; bfloat16 travels as ml_dtypes on this side.
The driver is :mod:`.subprocess_protocol`; the running program, :mod:`.exec_process`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from adagrad.conformance.adapters.base import AdapterError
from adagrad.conformance.engine.harness import ConformanceFailure
from adagrad.fixtures.encoding import decode_array, encode_array

__all__ = [
    "QUOTED",
    "ProgramError",
    "ProgramHang",
    "ProgramSetupError",
    "ProgramTooSlow",
    "answer_state",
    "decode",
    "encode",
    "head",
    "quote",
    "short",
]

QUOTED = 200  # bytes of a bad answer quoted in its failure


class ProgramError(ConformanceFailure):
    """The program broke the protocol: exited, hung, or printed something that is not an answer."""


class ProgramHang(ProgramError):
    """The program did not answer within the time limit (it was killed)."""


class ProgramTooSlow(ProgramError):
    """The program's answers used up the run's time budget (``--exec-budget``)."""


class ProgramSetupError(AdapterError):
    """The program started but did not answer ``hello`` properly: it fails the check (exit 1)."""


def encode(x: np.ndarray) -> dict[str, Any]:
    """A NumPy array (bfloat16 as ml_dtypes) in the fixture encoding."""
    x = np.asarray(x)
    held = x.astype(np.float32) if x.dtype.name == "bfloat16" else x  # the fixtures hold bfloat16 in float32
    return encode_array(held, x.dtype.name)


def decode(obj: Any, dtype: np.dtype | None = None) -> np.ndarray:
    """An array from the fixture encoding; with ``dtype``, it must be of that dtype."""
    if not isinstance(obj, dict) or not {"dtype", "shape", "hex"} <= set(obj):
        raise ProgramError(f"expected an array object {{dtype, shape, hex}}, got {short(obj)}")
    try:
        x = decode_array(obj)
    except (ValueError, KeyError, TypeError) as exc:
        raise ProgramError(f"malformed array {short(obj)}: {exc}") from None
    if obj["dtype"] == "bfloat16":
        import ml_dtypes

        x = x.astype(ml_dtypes.bfloat16)
    if dtype is not None and x.dtype != dtype:
        raise ProgramError(f"returned a {x.dtype} array where {dtype} was expected")
    return x


def answer_state(answer: dict[str, Any], op: str, n: int) -> dict[str, Any]:
    """The state in the answer to ``op``: ``sums`` and ``steps``, a list of ``n`` each."""
    state = answer.get("state")
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("sums"), list)
        or not isinstance(state.get("steps"), list)
    ):
        raise ProgramError(f"answer to {op!r} has no state with sums and steps: {short(answer)}")
    if len(state["sums"]) != n or len(state["steps"]) != n:
        raise ProgramError(
            f"answer to {op!r}: state has {len(state['sums'])} sums and {len(state['steps'])} steps for {n} parameters"
        )
    return state


def short(obj: Any, limit: int = QUOTED) -> str:
    """``obj`` (a string, or as JSON) cut to ``limit`` characters, saying how long it was."""
    text = obj if isinstance(obj, str) else json.dumps(obj, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def quote(data: bytes, total: int | None = None) -> str:
    """The first bytes of what the program printed, decoded leniently and escaped (one line)."""
    total = len(data) if total is None else total
    text = json.dumps(data[:QUOTED].decode("utf-8", errors="replace"))
    return text + (f" ... ({total} bytes)" if total > QUOTED else "")


def head(chunks: list[bytes]) -> bytes:
    """The first bytes of a partial answer held in chunks (without joining all of them)."""
    first = b""
    for chunk in chunks:
        first += chunk[: QUOTED - len(first)]
        if len(first) >= QUOTED:
            break
    return first
