"""Assemble the one report (schema_version 2, :mod:`.model`) from a run's state directory.

Inputs (:mod:`.run_state`): the plan (every conformance test and what was planned for it), the
controller's per-test report lines, the oracle processes' journals (the authority on which
checks failed), the first failures recorded before shrinking, and the watchdog's kills. Every
planned test gets exactly one outcome; a planned test with no result is ``not-run``.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

from adagrad.conformance.pytest_plugin import run_state
from adagrad.conformance.reporting.model import Result, failure_record

__all__ = ["assemble", "environment"]

_SKIP_KINDS = (("unsupported:", "unsupported"), ("excluded:", "excluded"), ("not claimed:", "not-claimed"))


def environment(command: list[str]) -> dict[str, Any]:
    """The versions a report names (python, torch, pytest, hypothesis, plugins) and the command."""
    from importlib import metadata

    def version(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {
        "python": platform.python_version(),
        "torch": version("torch"),
        "pytest": version("pytest") or "?",
        "hypothesis": version("hypothesis") or "?",
        "plugins": [
            f"pytest-xdist-{version('pytest-xdist')}",
            f"hypothesis-{version('hypothesis')}",
            f"adagrad-conformance-{version('adagrad-conformance')}",
        ],
        "command": [Path(command[0]).name, *command[1:]] if command else [],
    }


def _plan(directory: Path) -> dict[str, Any]:
    import json

    for path in sorted(directory.glob("plan-*.json")):
        try:
            return json.loads(path.read_text())
        except ValueError:
            continue
    return {"tests": [], "stale_divergences": [], "divergences": [], "unsupported": [], "target_error": None}


def _skip_kind(reason: str) -> str:
    reason = reason.removeprefix("Skipped: ")
    return next((kind for prefix, kind in _SKIP_KINDS if reason.startswith(prefix)), "skipped-unexpectedly")


def _statement(message: str) -> str:
    """The line that says what went wrong: the first assertion line, past exception-group frames."""
    lines = [ln[4:] if ln.startswith("E   ") else ln[2:] for ln in message.splitlines() if ln.startswith("E ")]
    for line in lines:
        text = line.strip().lstrip("|").strip()
        if (
            text
            and "----" not in text
            and not text.startswith("+")
            and not text.startswith(("Exception Group", "ExceptionGroup", "BaseExceptionGroup", "Traceback"))
        ):
            return text
    return (message.strip().splitlines() or [""])[-1].strip()


def _expected(record: dict[str, Any], entry: dict[str, Any] | None) -> bool:
    """Does a first failure recorded before shrinking match a divergence entry's expectation?"""
    import re

    if entry is None:
        return False
    if entry.get("expect") == "numerics":
        return record.get("kind") == "numerics"
    return (
        record.get("kind") == entry.get("exception")
        and re.search(entry.get("match") or "", record["message"]) is not None
    )


def _result(
    test: dict[str, Any],
    lines: list[dict[str, Any]],
    oracle_failed: dict[str, str],
    first: dict[str, dict[str, Any]],
    kills: dict[str, dict[str, Any]],
    divergences: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    tid = test["id"]
    r = Result(tid, test["feature"], "not-run", path=test["path"]).to_json()
    if test["planned"] in ("excluded", "not-claimed") and not lines:
        r["outcome"] = test["planned"]
        return r
    decisive = next((ln for ln in lines if ln["when"] in ("call", "???")), None) or next(
        (ln for ln in lines if ln["outcome"] != "passed"), None
    )
    if decisive is None:
        kill = kills.get(tid)
        if kill is None:
            return r
        decisive = {
            "when": "???",
            "outcome": "failed",
            "properties": [],
            "message": "",
            "wasxfail": None,
            "duration": kill.get("own_seconds", 0.0),
            "skip_reason": "",
        }
    props = decisive.get("properties", [])
    ulps = [v for k, v in props if k == "ulps"]
    sizes = [v for k, v in props if k == "case_size"]
    r["worst_ulps"] = max(ulps) if ulps else None
    r["case_size"] = max(sizes) if sizes else None
    r["step_ulps"] = [v for k, v in props if k == "step_ulps"]
    r["divergence"] = next((v for k, v in props if k == "divergence"), test.get("divergence"))
    r["duration"] = float(decisive.get("duration") or 0.0)
    reasons = [x for k, v in props if k == "unsupported" for x in v]
    failure = next((v for k, v in props if k == "failure"), None)
    outcome, message = decisive["outcome"], decisive.get("message", "")
    if decisive.get("wasxfail"):
        outcome = {"skipped": "xfailed", "passed": "xpassed"}.get(outcome, "failed")
    elif outcome == "skipped":
        reason = decisive.get("skip_reason", "")
        outcome = _skip_kind(reason)
        if outcome == "unsupported":
            reasons += [x for x in reason.removeprefix("Skipped: ").removeprefix("unsupported: ").split("; ") if x]
        elif outcome == "skipped-unexpectedly":
            message = f"skipped without the suite planning it: {reason}"
    if decisive["when"] == "???" or (outcome == "failed" and tid in kills):
        kill = kills.get(tid)
        if (
            kill
            and kill["why"] == "shrink"
            and tid in first
            and _expected(first[tid], divergences.get(r["divergence"]))
        ):
            outcome = "xfailed"  # failed as its known divergence expects, then ran out of time shrinking
        elif kill and kill["why"] == "shrink" and tid in first:
            outcome = "failed"
            rec = first[tid]
            message = (
                f"{rec['message']}\n\n(reported as first found: shrinking stopped after "
                f"{kill['limit']:.0f} s of the target's time)"
            )
            failure = {**(rec.get("details") or {}), "statement": _statement("E   " + rec["message"])}
            r["case_size"] = rec.get("size")
        elif kill and kill["why"] == "timeout":
            outcome = "timed-out"
            message = (
                f"the test did not finish within {kill['limit']:g} s of the target's own time "
                f"(waiting for a CPU not counted); the process running it was killed"
            )
        else:
            outcome = "crashed"
            message = message or "the process running this test died"
            if tid in first:
                message += f"\n\nits first failure before that: {first[tid]['message']}"
    if outcome == "passed" and tid in oracle_failed:
        outcome = "failed"
        message = f"the oracle's process judged a check of this test failed, but the test reported a pass: {oracle_failed[tid]}"
    r["outcome"] = outcome
    r["unsupported"] = list(dict.fromkeys(reasons))
    if outcome in ("failed", "crashed", "timed-out", "skipped-unexpectedly"):
        r["message"] = message
        if failure is None:
            failure = {"statement": _statement(message) or outcome}
        r["failure"] = failure_record(failure)
        r["tolerance_ulps"] = r["failure"]["tolerance_ulps"]
    return r


def assemble(directory: Path | None, meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON report of the run whose state is in ``directory``; ``meta`` carries the rest
    (target, adapter, description, profile, seed, strict, excluded, device, environment, run,
    problems)."""
    plan = (
        _plan(directory) if directory else {"tests": [], "stale_divergences": [], "divergences": [], "unsupported": []}
    )
    lines: dict[str, list[dict[str, Any]]] = {}
    for ln in run_state.read_jsonl(directory / "results.jsonl") if directory else []:
        lines.setdefault(ln["id"], []).append(ln)
    oracle_failed: dict[str, str] = {}
    first: dict[str, dict[str, Any]] = {}
    kills: dict[str, dict[str, Any]] = {}
    if directory:
        for path in directory.glob("oracle-*.jsonl"):
            for entry in run_state.read_jsonl(path):
                if entry["failed"]:
                    oracle_failed.setdefault(entry["test"], entry["statement"])
        for path in directory.glob("first-failure-*.jsonl"):
            for entry in run_state.read_jsonl(path):
                first.setdefault(entry["test"], entry)
        for entry in run_state.read_jsonl(directory / "watchdog.jsonl"):
            kills[entry["test"]] = entry
    by_id = {d["id"]: d for d in plan["divergences"]}
    for t in plan["tests"]:  # the divergence a test is listed under (its result may never have come)
        t.setdefault(
            "divergence",
            next(
                (
                    d["id"]
                    for d in plan["divergences"]
                    if any(x == t["id"] or t["id"].startswith(x + "[") for x in d["tests"])
                ),
                None,
            ),
        )
    results = [_result(t, lines.get(t["id"], []), oracle_failed, first, kills, by_id) for t in plan["tests"]]
    divergences = [
        {
            "id": d["id"],
            "reason": d["reason"],
            "tests": d["tests"],
            "used_by": [r["id"] for r in results if r["divergence"] == d["id"] and r["outcome"] == "xfailed"],
            "xpassed_by": [r["id"] for r in results if r["divergence"] == d["id"] and r["outcome"] == "xpassed"],
        }
        for d in plan["divergences"]
    ]
    import sys

    env = meta.get("environment") or environment([sys.executable, *sys.argv])
    report = {
        "schema_version": 2,
        "target": meta["target"],
        "adapter": meta.get("adapter", "torch"),
        "description": meta.get("description") or plan.get("description") or meta["target"],
        "profile": meta["profile"],
        "seed": int(meta.get("seed", 0)),
        "strict": bool(meta.get("strict")),
        "environment": env,
        "excluded": sorted(meta.get("excluded", [])),
        "not_claimed": list(plan.get("unsupported", [])),
        "results": results,
        "run": meta.get("run") or {"status": "complete", "reason": None, "timeouts": 0, "wall_seconds": 0.0},
        "problems": list(meta.get("problems", [])),
        "divergences": divergences,
        "stale_divergences": list(plan.get("stale_divergences", [])),
        "diagnosis": None,
    }
    if plan.get("target_error"):
        report["problems"].append(f"the target could not be loaded in a test process: {plan['target_error']}")
    from adagrad.conformance.reporting.summary import verdict

    report["verdict"] = verdict(report)[0]
    return report
