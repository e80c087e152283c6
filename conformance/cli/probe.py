"""Load a target in a throw-away process and say what it is: ``check`` never imports target code.

The target spec's ``warm_up`` (a build on first use) runs here too, once, before any test process.

``python -m adagrad.conformance.cli.probe SPEC ADAPTER EXEC EXEC_TIMEOUT TARGET_SPEC CLAIMS_JSON`` prints
one JSON line:
``{"ok": true, "description": ..., "unsupported": [...]}`` or ``{"ok": false, "kind": "usage" |
"protocol", "error": ...}``. A module that exits or kills the process at import prints nothing,
and ``check`` reports that as the target's failure to import.
"""

from __future__ import annotations

import json
import sys

__all__ = ["main"]


def _warmed_up(resolved) -> dict | None:
    """None once the target spec's warm-up (if any) ran: here first, so that a build on first use
    is done, and cached, before any test process starts; else the error answer."""
    from adagrad.conformance.engine.target import TargetError
    from adagrad.conformance.engine.target_spec import warm_up

    try:
        warm_up(resolved.target)
    except TargetError as exc:
        return {"ok": False, "kind": "usage", "error": str(exc)}
    return None


def main(argv: list[str]) -> int:
    spec, adapter, exec_command, exec_timeout, target_spec, claims = argv
    out = sys.stdout
    sys.stdout = sys.stderr  # whatever the target prints must not be taken for the answer
    from adagrad.conformance.adapters.base import resolve
    from adagrad.conformance.adapters.subprocess_protocol import ProgramSetupError
    from adagrad.conformance.engine.target import TargetError

    try:
        resolved = resolve(
            spec or None,
            adapter,
            exec_command or None,
            exec_timeout=float(exec_timeout),
            target_spec=target_spec or None,
            claims=json.loads(claims),
        )
    except ProgramSetupError as exc:
        answer = {"ok": False, "kind": "protocol", "error": str(exc)}
    except TargetError as exc:
        answer = {"ok": False, "kind": "usage", "error": str(exc)}
    except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt at import: the target's doing
        answer = {"ok": False, "kind": "usage", "error": f"loading the target raised {type(exc).__name__}: {exc}"}
    else:
        answer = _warmed_up(resolved)
    if answer is None:
        close = getattr(getattr(resolved.target.factory, "impl", None), "close", None)
        if close:
            close()
        answer = {
            "ok": True,
            "description": resolved.description,
            "unsupported": resolved.unsupported,
            "spec": resolved.target.spec,
        }
    out.write("ADAGRAD-PROBE " + json.dumps(answer) + "\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
