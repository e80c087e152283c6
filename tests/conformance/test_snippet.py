"""Reproduction snippets run as printed and call the target as its users do (engine/snippet.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from adagrad.conformance.engine.harness import Case, snippet
from adagrad.conformance.engine.state_mapping import StateMapping
from adagrad.conformance.engine.target import load_target
from adagrad.conformance.engine.target_spec import TargetSpec, attach


def _run(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, code + "\n" + proc.stderr[-2000:]
    return proc.stdout


def _case(**extra) -> Case:
    return Case(
        dtype="float32",
        params=[np.array([1.0, -2.0])],
        grads=[[np.array([0.5, 0.25])]],
        groups=[{"lr": 0.1, "params": [0]}],
        options={"foreach": False},
        **extra,
    )


def test_off_path_flags_are_left_out_on_cpu():
    """A library without ``foreach`` runs the snippet of a for-loop case (Target.make drops the flag too)."""
    code = snippet(load_target("torch.optim:Adagrad"), _case())
    assert "foreach" not in code
    assert "tensor(" in _run(code)


def test_teacher_forced_snippet_writes_through_the_state_mapping():
    """With a declared state mapping the start state is written (and printed) through it, not
    through torch's state_dict layout."""
    spec = TargetSpec(state=StateMapping(), name="adagrad.conformance.engine.target_spec:TargetSpec")
    target = attach(load_target("torch.optim:Adagrad"), "none")
    target = type(target)(target.spec, target.factory, target.loader, spec)
    code = snippet(target, _case(start=[(np.array([1.0, 2.0]), 3)]))
    assert "mapping.write_all(opt" in code and "state_dict()" not in code
