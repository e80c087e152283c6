"""torch Adagrads that misbehave from a given step on; each one attack on the verdict."""

from __future__ import annotations

import os
import re
import sys
import time
import unittest

import pytest
import torch
from torch.optim import Adagrad


class _FromStep(Adagrad):
    """Calls :meth:`act` on every step from ``FROM`` on (counted per optimizer)."""

    FROM = 3

    def step(self, closure=None):
        self._calls = getattr(self, "_calls", 0) + 1
        if self._calls >= self.FROM:
            self.act()
        return super().step(closure)

    def act(self) -> None:
        raise NotImplementedError


class SleepsForever(_FromStep):
    def act(self):
        while True:
            time.sleep(60)


class HoldsTheGil(_FromStep):
    """A catastrophic regular expression: C code that never releases the GIL."""

    def act(self):
        re.match(r"(a|aa)*c", "a" * 60)


class Aborts(_FromStep):
    def act(self):
        os.abort()


class SkipsItself(_FromStep):
    FROM = 2

    def act(self):
        pytest.skip("not today")


class XfailsItself(_FromStep):
    FROM = 2

    def act(self):
        pytest.xfail("expected")


class RaisesSkipTest(_FromStep):
    FROM = 2

    def act(self):
        raise unittest.SkipTest("skip")


class ExitsInStep(_FromStep):
    FROM = 2

    def act(self):
        sys.exit(0)


class Prints2MB(_FromStep):
    """Correct, but prints 2 MB per step."""

    FROM = 1

    def act(self):
        sys.stdout.write("x" * (2 << 20) + "\n")


class ExitsInConstructor(Adagrad):
    def __init__(self, *args, **kwargs):
        os._exit(0)


class NoSquareRoot(Adagrad):
    """Dense for-loop Adagrad without the square root (the numpy patch hides it, if it can)."""

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                st["step"] += 1
                g = -p.grad if group["maximize"] else p.grad
                if group["weight_decay"]:
                    g = g + group["weight_decay"] * p
                clr = group["lr"] / (1 + (float(st["step"]) - 1) * group["lr_decay"])
                st["sum"].addcmul_(g, g)
                p.addcdiv_(g, st["sum"] + group["eps"], value=-clr)


class SlowToShrink(Adagrad):
    """Wrong when lr exceeds 0.0015 (the smallest drawn lr is 0.001, so the first example passes
    and a later one fails), and each step takes 0.4 s: shrinking lr down to the boundary would
    take longer than the test's limit."""

    @torch.no_grad()
    def step(self, closure=None):
        time.sleep(0.4)
        loss = super().step(closure)
        for group in self.param_groups:
            if float(group["lr"]) > 0.0015:
                for p in group["params"]:
                    if p.grad is not None:
                        p.add_(1e-2)
        return loss


class TorchSubclass(Adagrad):
    """torch's Adagrad under another name: torch's known divergences (D5: the fused CPU kernel
    ignores strides) name torch.optim:Adagrad only, so they do not excuse this target."""
