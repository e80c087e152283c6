"""Reproduction snippets: a failing case as a short script that calls the target as its users do."""

from __future__ import annotations

from typing import Any

import numpy as np

from adagrad.conformance.engine.case import Case
from adagrad.conformance.engine.target import OFF_FLAGS, Target
from adagrad.conformance.engine.torch_io import is_default
from adagrad.reference import SparseGrad


# -- reproduction -------------------------------------------------------------------------------
def _literal(x: np.ndarray) -> str:
    return repr(np.asarray(x).tolist())


def _hyper_literal(case: Case, key: str, value: Any) -> str:
    if key == "lr" and case.lr_tensor_dtype:
        return f"torch.tensor({value!r}, dtype=torch.{case.lr_tensor_dtype})"
    return repr(value)


def snippet(target: Target, case: Case, max_elements: int = 400) -> str:
    """Python code that replays ``case`` on ``target`` and prints the results."""
    size = sum(np.size(p) for p in case.params) * (len(case.grads) + 1)
    if size > max_elements:
        return f"    (case too large to print: {size} values; shrink it or rerun with the seed above)"
    cdt = "complex128" if case.dtype.startswith("complex") else "float64"
    lines = [
        "import torch",
        *(
            getattr(target, "loader", None)
            or f"from adagrad.conformance.engine.target import load_target\nTarget = load_target({target.spec!r}).factory"
        ).splitlines(),
        f"dt = torch.{case.dtype}",
        "params = [",
    ]
    for p in case.params:
        lines.append(f"    torch.tensor({_literal(p)}, dtype=torch.{cdt}).to(dt).requires_grad_(),")
    lines.append("]")
    # A path flag at its off value is left out, as Target.make leaves it out for a library
    # without it (on CPU torch's default path is then the for-loop, the same one).
    options = {
        k: v for k, v in case.options.items() if k not in OFF_FLAGS or v not in (None, False) or case.device != "cpu"
    }
    if len(case.groups) == 1:
        g = case.groups[0]
        given = {k: v for k, v in g.items() if k != "params" and not is_default(case, k, v)}
        hyper = ", ".join(f"{k}={_hyper_literal(case, k, v)}" for k, v in {**given, **options}.items())
        lines.append(f"opt = Target([{', '.join(f'params[{i}]' for i in g['params'])}], {hyper})")
    else:
        lines.append("opt = Target([")
        for g in case.groups:
            hyper = ", ".join(
                f"{k!r}: {_hyper_literal(case, k, v)}"
                for k, v in g.items()
                if k != "params" and not is_default(case, k, v)
            )
            lines.append(f"    {{'params': [{', '.join(f'params[{i}]' for i in g['params'])}], {hyper}}},")
        lines.append(f"], **{options!r})")
    mapping = getattr(getattr(target, "target_spec", None), "state", None)
    if case.start is not None and mapping is not None:
        lines.append("# the start state, written through the target spec's state mapping")
        lines.append("from adagrad.conformance.engine.target_spec import load_spec")
        lines.append(f"mapping = load_spec({target.target_spec.name!r}).state")
        starts = ", ".join(f"(torch.tensor({_literal(s)}, dtype=torch.{cdt}).to(dt), {int(t)})" for s, t in case.start)
        lines.append(f"mapping.write_all(opt, [{starts}])")
    elif case.start is not None:
        lines.append("sd = opt.state_dict()")
        for i, (s, t) in enumerate(case.start):
            lines.append(
                f"sd['state'][{i}] = {{'step': torch.tensor({float(t)!r}), 'sum': torch.tensor({_literal(s)}, dtype=torch.{cdt}).to(dt)}}"
            )
        lines.append("opt.load_state_dict(sd)")
    for k, step_grads in enumerate(case.grads):
        for gi, key, value in case.edits.get(k, []):
            lines.append(f"opt.param_groups[{gi}][{key!r}] = {_hyper_literal(case, key, value)}")
        for i, g in enumerate(step_grads):
            if g is None:
                lines.append(f"params[{i}].grad = None")
            elif isinstance(g, SparseGrad):
                lines.append(
                    f"params[{i}].grad = torch.sparse_coo_tensor(torch.tensor({_literal(g.indices)}), "
                    f"torch.tensor({_literal(g.values)}, dtype=torch.{cdt}).to(dt), {tuple(g.shape)!r})"
                )
            else:
                lines.append(f"params[{i}].grad = torch.tensor({_literal(g)}, dtype=torch.{cdt}).to(dt)")
        lines.append("opt.step()")
    lines.append(
        "print([p.detach() for p in params], mapping.read_all(opt))"
        if mapping is not None
        else "print([p.detach() for p in params], opt.state_dict()['state'])"
    )
    return "\n".join("    " + line for line in lines)
