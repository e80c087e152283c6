"""The oracle needs no torch: it imports and runs with torch blocked, and never imports it.

An oracle that imported torch could silently take torch's behaviour as its own; keeping it
NumPy-only is what makes the differential tests against torch meaningful.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import adagrad.reference

REFERENCE_DIR = Path(adagrad.reference.__file__).resolve().parent

_BLOCKED_RUN = textwrap.dedent(
    """
    import sys

    class BlockTorch:
        '''A meta-path finder that refuses torch and every torch.* module.'''

        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, BlockTorch())
    sys.modules.pop("torch", None)

    import numpy as np
    from adagrad.reference import Param, ReferenceAdagrad, SparseGrad, adagrad_step

    w, v = Param(np.array([1.0, -1.0])), Param(np.zeros(3))
    opt = ReferenceAdagrad([w, v], lr=0.5, eps=0.0)
    w.grad = np.array([2.0, -2.0])
    v.grad = SparseGrad(np.array([[0, 0]]), np.array([1.0, 1.0]), (3,))
    opt.step()
    assert w.data.tolist() == [0.5, -0.5], w.data
    assert v.data.tolist() == [-0.5, 0.0, 0.0], v.data
    sd = opt.state_dict()
    assert adagrad_step(np.ones(1), np.ones(1), np.zeros(1), 0, lr=1.0, eps=0.0)[0].tolist() == [0.0]
    assert not any(m == "torch" or m.startswith("torch.") for m in sys.modules), "torch was imported"
    try:
        import torch  # noqa: F401
    except ImportError:
        print("OK")
    else:
        raise SystemExit("the torch block did not work")
    """
)


def test_reference_imports_and_runs_without_torch_R1():
    """In a fresh interpreter with torch blocked, the oracle imports, steps and serialises."""
    result = subprocess.run([sys.executable, "-c", _BLOCKED_RUN], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK"


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(REFERENCE_DIR.rglob("*.py")), ids=lambda p: p.name)
def test_no_reference_module_imports_torch(path):
    """No module of reference/ imports torch, at any place in the file (functions included)."""
    imported = _imported_modules(path)
    assert not {m for m in imported if m == "torch" or m.startswith("torch.")}, imported
    assert "import torch" not in path.read_text()


def test_reference_directory_is_the_oracle():
    """The scan above looks at the real oracle (a wrong path would make it pass vacuously)."""
    assert {p.name for p in REFERENCE_DIR.glob("*.py")} >= {"__init__.py", "functional.py", "optimizer.py"}
