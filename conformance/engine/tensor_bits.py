"""Exact, arithmetic-free transfer of values between the suite and a target's tensors.

The suite hands a target its inputs and reads its results as IEEE bit patterns, moved with
integer operations only. No floating-point instruction touches the data on the target's side,
so process-wide floating-point state that a target may set (``torch.set_flush_denormal(True)``
sets the CPU's flush-to-zero and denormals-are-zero flags, for NumPy too) cannot change what the
target is given or what the suite reads back: a subnormal stays a subnormal.

- :func:`encode_bits` turns float64 values that are exactly representable in a dtype into that
  dtype's bit patterns (an integer array); :func:`decode_bits` is its inverse.
- :func:`tensor_from_values` builds a torch tensor of the dtype from float64 (complex128) values;
  :func:`tensor_bits` reads any dense tensor's bits (plus a dtype tag) for the oracle process.

Formats: binary64, binary32, binary16 and bfloat16 (IEEE layout: sign, exponent, fraction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "BitFormat",
    "BITS",
    "decode_bits",
    "encode_bits",
    "tensor_bits",
    "tensor_from_values",
    "UnrepresentableValue",
]


class UnrepresentableValue(ValueError):
    """A value the suite wanted to pass is not exactly representable in the dtype (a suite bug)."""


@dataclass(frozen=True)
class BitFormat:
    """The IEEE layout of a dtype: total bits, exponent bits, integer dtype holding the bits."""

    name: str
    total: int
    exponent_bits: int
    int_dtype: str

    @property
    def fraction_bits(self) -> int:
        return self.total - 1 - self.exponent_bits

    @property
    def bias(self) -> int:
        return (1 << (self.exponent_bits - 1)) - 1


BITS: dict[str, BitFormat] = {
    "float64": BitFormat("float64", 64, 11, "int64"),
    "float32": BitFormat("float32", 32, 8, "int32"),
    "float16": BitFormat("float16", 16, 5, "int16"),
    "bfloat16": BitFormat("bfloat16", 16, 8, "int16"),
}
_COMPLEX = {"complex64": "float32", "complex128": "float64"}


def encode_bits(values: np.ndarray, dtype: str) -> np.ndarray:
    """Bit patterns (signed integers of the dtype's width) of float64 ``values`` in ``dtype``.

    Raises:
        UnrepresentableValue: a value would need rounding (the suite only passes exact values).
    """
    arr = np.asarray(values, dtype=np.float64)
    return _encode_flat(arr.ravel(), dtype).reshape(arr.shape)


def _encode_flat(values: np.ndarray, dtype: str) -> np.ndarray:
    fmt = BITS[dtype]
    u = np.array(values, dtype=np.float64, order="C").view(np.uint64)
    if dtype == "float64":
        return u.view(np.int64).copy()
    sign = (u >> np.uint64(63)).astype(np.int64)
    exp64 = ((u >> np.uint64(52)) & np.uint64(0x7FF)).astype(np.int64)
    frac64 = (u & np.uint64((1 << 52) - 1)).astype(np.int64)
    fb = fmt.fraction_bits
    e_max = (1 << fmt.exponent_bits) - 1
    unbiased = exp64 - 1023
    normal = unbiased >= 1 - fmt.bias
    # normal in the target format: drop low fraction bits; subnormal: shift the full significand
    shift_n = 52 - fb
    frac_normal = frac64 >> shift_n
    sub_shift = np.clip(shift_n + (1 - fmt.bias) - unbiased, 0, 63)
    frac_sub = (frac64 | (1 << 52)) >> sub_shift
    special = exp64 == 0x7FF
    zero = (exp64 == 0) & (frac64 == 0)
    exp_out = np.where(normal, unbiased + fmt.bias, 0)
    frac_out = np.where(normal, frac_normal, frac_sub)
    nan = special & (frac64 != 0)
    exp_out = np.where(special, e_max, np.where(zero, 0, exp_out))
    frac_out = np.where(special, np.where(nan, 1 << (fb - 1), 0), np.where(zero, 0, frac_out))
    bits = (sign << (fmt.total - 1)) | (exp_out << fb) | frac_out
    finite = ~special
    overflow = finite & (exp_out >= e_max)
    back = _decode_flat(_to_int(bits, fmt), dtype)
    inexact = finite & ~overflow & (back.view(np.uint64) != u)
    if overflow.any() or inexact.any():
        bad = np.asarray(values, dtype=np.float64)[overflow | inexact].ravel()[:3]
        raise UnrepresentableValue(f"value(s) {bad.tolist()} are not exactly representable in {dtype}")
    return _to_int(bits, fmt)


def _to_int(bits: np.ndarray, fmt: BitFormat) -> np.ndarray:
    """int64 bit patterns narrowed, two's complement, to the format's signed integer dtype."""
    unsigned = {"int32": np.uint32, "int16": np.uint16, "int64": np.uint64}[fmt.int_dtype]
    return bits.astype(np.uint64).astype(unsigned).view(fmt.int_dtype)


def decode_bits(bits: np.ndarray, dtype: str) -> np.ndarray:
    """float64 values of ``dtype`` bit patterns (integer arithmetic only; NaN payloads not kept)."""
    arr = np.asarray(bits)
    return _decode_flat(arr.ravel(), dtype).reshape(arr.shape)


def _decode_flat(bits: np.ndarray, dtype: str) -> np.ndarray:
    fmt = BITS[dtype]
    if dtype == "float64":
        return np.array(bits, order="C").astype(np.int64).view(np.float64)
    unsigned = {"int32": np.uint32, "int16": np.uint16}[fmt.int_dtype]
    b = np.array(bits, order="C").view(unsigned).astype(np.int64)
    fb = fmt.fraction_bits
    sign = b >> (fmt.total - 1)
    exp = (b >> fb) & ((1 << fmt.exponent_bits) - 1)
    frac = b & ((1 << fb) - 1)
    e_max = (1 << fmt.exponent_bits) - 1
    # normal: rebias the exponent and widen the fraction; subnormal: normalise by the leading bit
    lead = np.zeros_like(frac)  # position of the leading fraction bit (integer ops only)
    for k in range(1, fb):
        lead += (frac >> k) > 0
    exp64 = np.where(
        exp == 0,
        np.where(frac == 0, 0, (1 - fmt.bias) - (fb - lead) + 1023),
        np.where(exp == e_max, 0x7FF, exp - fmt.bias + 1023),
    )
    frac_sub = (frac << (52 - lead)) & ((1 << 52) - 1)
    frac64 = np.where(
        exp == 0,
        np.where(frac == 0, 0, frac_sub),
        np.where(exp == e_max, np.where(frac != 0, 1 << 51, 0), frac << (52 - fb)),
    )
    out = (
        (sign.astype(np.uint64) << np.uint64(63))
        | (exp64.astype(np.uint64) << np.uint64(52))
        | frac64.astype(np.uint64)
    )
    return out.view(np.float64)


def _real_name(dtype: str) -> str:
    return _COMPLEX.get(dtype, dtype)


def tensor_from_values(values: np.ndarray, dtype: str):
    """A torch tensor of ``dtype`` holding float64/complex128 ``values`` (exact in the dtype)."""
    import torch

    arr = np.asarray(values)
    if dtype in _COMPLEX:
        pairs = np.stack([arr.real, arr.imag], axis=-1) if arr.size else np.zeros(arr.shape + (2,))
        real = tensor_from_values(np.array(pairs, dtype=np.float64, order="C"), _COMPLEX[dtype])
        return torch.view_as_complex(real.contiguous())
    if np.iscomplexobj(arr):
        raise UnrepresentableValue(f"complex values for real dtype {dtype}")
    bits = encode_bits(arr.astype(np.float64), dtype)
    return torch.from_numpy(bits.reshape(arr.shape)).view(getattr(torch, dtype)).clone()


def tensor_bits(t) -> tuple[str, np.ndarray]:
    """``(dtype name, bit patterns)`` of a dense tensor (any device, layout or strides).

    Complex tensors come back as real pairs (last axis of length 2) of the real dtype.
    """
    import torch

    t = t.detach()
    if t.device.type != "cpu":
        t = t.to("cpu")
    if t.is_sparse:
        t = t.to_dense()
    if t.is_complex():
        t = torch.view_as_real(t)
    name = str(t.dtype).removeprefix("torch.")
    if name not in BITS:
        raise TypeError(f"a tensor of dtype {name} where a floating-point tensor was expected")
    ints = t.contiguous().view(getattr(torch, BITS[name].int_dtype))
    return name, ints.numpy().copy()
