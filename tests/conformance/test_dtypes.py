"""The dtype table and the ulp module, pinned against NumPy's ``np.spacing`` and ml_dtypes.

Every expected value here comes from NumPy or ml_dtypes (or torch, for the rounding), never
from ``conformance/engine/dtypes.py`` itself.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
import torch

from adagrad.conformance.engine.dtypes import (
    COMPLEX_COMPONENT,
    DTYPES,
    FORMATS,
    format_of,
    numpy_dtype,
    real_dtype,
    round_to,
    torch_dtype,
    ulp,
    ulp_distance,
)

#: The NumPy (ml_dtypes) type of each real dtype and its finfo, as the libraries define them.
NUMPY_TYPES = {"float64": np.float64, "float32": np.float32, "float16": np.float16, "bfloat16": ml_dtypes.bfloat16}


def _finfo(name: str):
    return ml_dtypes.finfo(NUMPY_TYPES[name]) if name == "bfloat16" else np.finfo(NUMPY_TYPES[name])


def _table(name: str) -> np.ndarray:
    """Values of the dtype: every power of two, both its neighbours, subnormals, max, ±0, signs."""
    t = NUMPY_TYPES[name]
    info = _finfo(name)
    lowest_exponent = int(info.minexp) - int(info.nmant)
    powers = np.ldexp(1.0, np.arange(lowest_exponent, int(info.maxexp))).astype(t)
    up = np.nextafter(powers, np.array(np.inf, dtype=t))
    down = np.nextafter(powers, np.array(0, dtype=t))
    tiny = float(info.smallest_subnormal)
    subnormals = np.array([tiny, 2 * tiny, 3 * tiny, 7 * tiny], dtype=t)
    largest_subnormal = np.nextafter(np.array(info.smallest_normal, dtype=t), np.array(0, dtype=t))
    below_max = np.nextafter(np.array(info.max, dtype=t), np.array(0, dtype=t))
    values = np.concatenate([powers, up, down, subnormals, [largest_subnormal, below_max, t(1.5), t(3.0), t(0.0)]])
    values = values[np.isfinite(values) & (np.abs(values.astype(np.float64)) < float(info.max))]
    return np.concatenate([values, -values]).astype(t)


@pytest.mark.parametrize("name", DTYPES)
def test_ulp_equals_np_spacing(name):
    """ulp(x) == |np.spacing(|x|)| in the dtype for every finite value below the largest."""
    values = _table(name)
    want = np.abs(np.spacing(np.abs(values)).astype(np.float64))
    got = ulp(values.astype(np.float64), FORMATS[name])
    assert np.array_equal(got, want), values[got != want][:5]


@pytest.mark.parametrize("name", DTYPES)
def test_ulp_at_the_edges(name):
    """±0: the smallest subnormal (np.spacing(0)); the largest value: its binade's spacing; ±inf, NaN."""
    t, info = NUMPY_TYPES[name], _finfo(name)
    zero = float(np.spacing(t(0.0)))
    assert zero == float(info.smallest_subnormal)
    assert ulp(np.array([0.0, -0.0]), name).tolist() == [zero, zero]
    top = np.array(info.max, dtype=t)
    gap_below_max = float(top) - float(np.nextafter(top, np.array(0, dtype=t)))
    assert ulp(np.array([float(top), -float(top)]), name).tolist() == [gap_below_max] * 2
    with np.errstate(over="ignore"):
        assert np.isinf(np.spacing(top))  # which is why the largest value is the exception
    assert ulp(np.array([np.inf, -np.inf]), name).tolist() == [np.inf, np.inf]
    assert np.isnan(ulp(np.array([np.nan]), name)).all()


@pytest.mark.parametrize("name", ["float32", "float16", "bfloat16"])
def test_ulp_of_a_value_between_values_of_the_dtype(name):
    """An oracle value just below a power of two has the smaller spacing of its own binade."""
    t = NUMPY_TYPES[name]
    below_one = np.nextafter(t(1.0), t(0.0))
    x = (float(below_one) + 1.0) / 2  # strictly between the largest value below 1 and 1
    assert float(below_one) < x < 1.0
    assert ulp(np.array([x]), name)[0] == float(np.spacing(below_one))


def test_ulp_accepts_a_name_or_a_format():
    assert (
        ulp(np.array([1.0]), "float32")[0]
        == ulp(np.array([1.0]), FORMATS["float32"])[0]
        == float(np.spacing(np.float32(1)))
    )


@pytest.mark.parametrize("name", DTYPES)
def test_format_facts_match_numpy(name):
    """Precision, exponent range, max, u and the smallest subnormal are NumPy's (ml_dtypes') finfo."""
    fmt, info = FORMATS[name], _finfo(name)
    assert fmt.precision == int(info.nmant) + 1
    assert fmt.u == float(info.eps) / 2
    assert 2.0**fmt.min_exponent == float(info.smallest_normal)
    assert fmt.max_value == float(info.max)
    assert fmt.smallest_subnormal == float(info.smallest_subnormal)
    assert fmt.numpy == np.dtype(NUMPY_TYPES[name])
    assert torch_dtype(name) == getattr(torch, fmt.torch_name)
    assert torch.finfo(torch_dtype(name)).max == fmt.max_value


def test_underflow_is_half_a_subnormal_rounded_up_to_a_float64():
    """Exact where half the smallest subnormal is a float64; float64's own (2**-1075) rounds up."""
    for name in ("float32", "float16", "bfloat16"):
        assert FORMATS[name].underflow * 2 == FORMATS[name].smallest_subnormal
    assert FORMATS["float64"].underflow == float(np.finfo(np.float64).smallest_subnormal)


# -- names, complex, NumPy dtypes -----------------------------------------------------------------
def test_real_and_numpy_dtypes():
    assert [real_dtype(n) for n in ("complex128", "complex64", "bfloat16")] == ["float64", "float32", "bfloat16"]
    assert COMPLEX_COMPONENT == {"complex128": "float64", "complex64": "float32"}
    assert format_of("complex64") is FORMATS["float32"]
    assert numpy_dtype("bfloat16") == np.dtype(ml_dtypes.bfloat16)
    assert numpy_dtype("complex64") == np.dtype(np.complex64)
    for name in (*DTYPES, "complex64", "complex128"):
        assert torch.empty(0, dtype=torch_dtype(name)).dtype == getattr(torch, name)


@pytest.mark.parametrize("helper", [real_dtype, numpy_dtype, format_of, torch_dtype])
def test_unknown_dtype_is_named(helper):
    with pytest.raises(ValueError, match="unknown dtype 'float8'"):
        helper("float8")
    with pytest.raises(ValueError, match="unknown dtype"):
        round_to([1.0], "int32")


# -- rounding ------------------------------------------------------------------------------------
ROUNDING = np.array(
    [
        1 + 2**-11 + 2**-40,  # float16: above a tie, a tie after rounding to float32 first (as torch)
        1 + 2**-8 + 2**-40,  # bfloat16: the same
        1 + 2**-24,
        1 + 3 * 2**-24,  # float32 ties, to even
        65504.0,
        65519.0,
        65520.0,
        3.4e38,
        3.5e38,
        1e300,  # overflow to inf where it should
        2.0**-149,
        2.0**-150,
        1.5 * 2.0**-150,
        2.0**-25,
        2.0**-24 * 0.75,
        1e-320,  # subnormals, underflow
        0.0,
        -0.0,
        -1.1,
        np.inf,
        -np.inf,
        np.nan,
        0.1,
        1 / 3,
    ]
)


@pytest.mark.parametrize("name", DTYPES)
def test_round_to_matches_torch(name):
    """round_to is torch's float64 -> dtype conversion, bit for bit, without torch."""
    want = torch.from_numpy(ROUNDING).to(torch_dtype(name)).to(torch.float64).numpy()
    got = round_to(ROUNDING, name)
    assert got.dtype == np.float64 and got.shape == ROUNDING.shape
    assert np.array_equal(got, want, equal_nan=True)
    assert np.array_equal(np.signbit(got), np.signbit(want))


def test_round_to_keeps_the_shape_of_0d_and_rounds_complex_parts():
    assert round_to(np.float64(0.1), "bfloat16").shape == ()
    z = round_to(np.array([complex(0.1, 1 / 3)]), "complex64")
    assert z.dtype == np.complex128
    assert z[0] == complex(float(np.float32(0.1)), float(np.float32(1 / 3)))


# -- ulp distance --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", DTYPES)
def test_ulp_distance_of_neighbours_is_one_spacing(name):
    values = _table(name)
    values = values[np.abs(values.astype(np.float64)) > 0]
    t = NUMPY_TYPES[name]
    nxt = np.nextafter(values, np.array(np.inf, dtype=t))
    keep = np.isfinite(nxt) & (nxt.astype(np.float64) < float(_finfo(name).max))
    values, nxt = values[keep], nxt[keep]
    assert (ulp_distance(values.astype(np.float64), nxt.astype(np.float64), name) == 1).all()
    # the gap is np.spacing at the magnitude of the neighbour nearer to zero
    gap = np.where(values > 0, np.spacing(np.abs(values)), np.spacing(np.abs(nxt))).astype(np.float64)
    assert np.array_equal(nxt.astype(np.float64) - values.astype(np.float64), gap)


def test_ulp_distance_conventions():
    s = float(np.finfo(np.float64).smallest_subnormal)
    assert ulp_distance(np.array([0.0]), np.array([-0.0]), "float64")[0] == 0  # the same point
    assert ulp_distance(np.array([-s]), np.array([s]), "float64")[0] == 2
    assert ulp_distance(np.array([-1.0]), np.array([1.0]), "float64")[0] == 2 * 0x3FF0000000000000
    assert ulp_distance(np.array([np.nan]), np.array([np.nan]), "float32")[0] == 0
    assert ulp_distance(np.array([np.nan]), np.array([1.0]), "float32")[0] == np.inf
    top = float(np.finfo(np.float16).max)
    assert ulp_distance(np.array([top]), np.array([np.inf]), "float16")[0] == 1
    assert ulp_distance(np.array([1.0 + 1j]), np.array([1.0 + 1j + 2 * 2.0**-23]), "complex64")[0] == 2


def test_ulp_distance_refuses_values_outside_the_dtype():
    with pytest.raises(ValueError, match="not exactly representable in float32"):
        ulp_distance(np.array([0.1]), np.array([0.1]), "float32")
