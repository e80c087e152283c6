"""Adagrad's semantics as switches: one field per documented departure from the spec's update.

:class:`Semantics` with every field at its default is the spec's R1 (what ``adagrad.reference``
computes); each field is one documented departure from it, and the catalogue
(:mod:`.catalogue`) names them. :func:`~.replay.replay` runs a case under some semantics;
:func:`bound_dtype` says whose error model bounds it.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from adagrad.conformance.diagnosis.values import _PRECISION, _narrower, _real
from adagrad.conformance.engine.case import Case

__all__ = ["NotReplayable", "Semantics", "bound_dtype"]


class NotReplayable(ValueError):
    """The case cannot be replayed under these semantics (e.g. a sparse gradient with weight decay, R10)."""


@dataclass(frozen=True)
class Semantics:
    """Switches on the update; all defaults = spec R1. Each field is documented in :mod:`.catalogue`."""

    eps_inside: bool = False  # sqrt(s + eps)
    eps_absent: bool = False  # sqrt(s), no eps at all
    eps_value: float | None = None  # a fixed eps replaces the given one
    eps_zero_default: float | None = None  # eps == 0 silently replaced by this value
    guard_zero: bool = False  # update 0 where the accumulator is 0 (no 0/0 NaN): where(s > 0, 1/d, 0) * g
    guard_update: bool = False  # update 0 unless the accumulator is positive, NaN g too: where(s > 0, g/d, 0)
    no_sqrt: bool = False  # s + eps instead of sqrt(s) + eps
    old_accumulator: bool = False  # the update divides by the accumulator before this step's g^2
    decoupled_wd: bool = False  # p -= clr * wd * p, the gradient left alone
    wd_not_accumulated: bool = False  # s += g^2 without wd; the update uses g + wd p
    wd_always: bool = False  # g + wd p computed for wd == 0 too (0 * inf and 0 * nan are nan)
    maximize_after_wd: bool = False  # g = -(g + wd p)
    maximize_ignored: bool = False  # maximize has no effect
    fixed_tau: float | None = None  # the accumulator starts at this value whatever tau
    hyper_dtype: str | None = None  # lr, lr_decay, wd, eps, tau rounded to this dtype (float64 params)
    hyper_keys: tuple[str, ...] | None = None  # with hyper_dtype: only these are rounded (None: all)
    lr_dtype: str | None = None  # lr held in this dtype, the decoupled factor 1 - lr wd computed in it
    decay_dtype: str | None = None  # the factor 1 / (1 + (t-1) lr_decay) computed in this dtype
    compute_dtype: str | None = None  # inputs rounded to this dtype, arithmetic bounded in it
    accumulator_dtype: str | None = None  # the accumulator stored in this dtype
    momentum: float | None = None  # m = (1-b) g/d + b m; p -= clr m
    lr_decay_offset: int = 0  # 1: lr / (1 + t lr_decay)
    lr_decay_ignored: bool = False  # lr_decay has no effect
    group_tau_ignored: bool = False  # every group starts at the constructor's tau (torch's D1)
    decay_counter: str = "param"  # "param" (R2/R3), "group" (step() calls of the group), "shared"
    step_without_grad: bool = False  # t advances for a parameter without a gradient
    step_in_dtype: bool = False  # t held in the parameter's dtype
    nonfinite_clamp: float | None = None  # NaN -> 0, +-inf -> +-value in the gradient
    lr_edits_ignored: bool = False  # the lr a group was created with is used throughout
    sparse_square_first: bool = False  # duplicate sparse entries squared, then summed
    complex_shared: bool = False  # one accumulator |g|^2 for both parts of a complex parameter
    flush_subnormals: bool = False  # subnormal inputs and results read and written as zero (FTZ/DAZ)

    def changed(self) -> dict[str, Any]:
        """The fields that differ from R1."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) != f.default}


def bound_dtype(case: Case, sem: Semantics) -> str:
    """The dtype whose error model bounds a replay: the case's, or a narrower one the variant computes in."""
    real = _real(case.dtype)
    narrow = [d for d in (sem.compute_dtype, sem.accumulator_dtype) if _narrower(d, real)]
    return min(narrow, key=lambda d: _PRECISION[d]) if narrow else real
