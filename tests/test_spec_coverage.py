"""Every rule and divergence of docs/spec.md is checked by at least one test marked with it.

A rule is defined where a paragraph of the spec starts with its bold ID (``**R7 — eps.**``); a
divergence where a row of the divergence table starts with its ID (``| D1 | ...``). IDs
mentioned elsewhere (cross-references such as "see D4") define nothing.

A test checks an ID when it carries the marker ``@pytest.mark.spec("R7", ...)``: on the test
function, in its module's ``pytestmark``, or in the ``marks`` of one of its ``pytest.param``.
The markers are read from the source with :mod:`ast` (test modules ``test_*.py`` under
``tests/`` and ``conformance/``), so a rule named in a comment, a docstring or a test's name
cites nothing.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "docs" / "spec.md"
TEST_DIRS = (ROOT / "tests", ROOT / "conformance")

_RULE = re.compile(r"^\*\*(R\d+)\b", re.MULTILINE)
_DIVERGENCE = re.compile(r"^\|\s*(D\d+)\s*\|", re.MULTILINE)


def spec_ids(text: str) -> list[str]:
    """Rule and divergence IDs the spec defines, in order of appearance."""
    return _RULE.findall(text) + _DIVERGENCE.findall(text)


def test_modules() -> list[Path]:
    """The test modules whose markers count (this file excluded: it checks nothing of the spec)."""
    this = Path(__file__).resolve()
    return sorted(p for d in TEST_DIRS for p in d.rglob("test_*.py") if p.resolve() != this and ".venv" not in p.parts)


def _is_spec_mark(node: ast.AST) -> bool:
    """``pytest.mark.spec(...)`` or ``mark.spec(...)``."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "spec"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "mark"
    )


def _ids_in(node: ast.AST) -> set[str]:
    """Rule IDs of every spec marker inside ``node`` (string literal arguments only)."""
    found = set()
    for sub in ast.walk(node):
        if _is_spec_mark(sub):
            for arg in sub.args:
                if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                    raise ValueError(f"line {sub.lineno}: spec marker arguments must be string literals")
                found.add(arg.value)
    return found


def marked_ids(source: str) -> set[str]:
    """Rule IDs carried by spec markers attached to tests in a module's source.

    Counted: markers among a ``test_*`` function's (or ``Test*`` class's) decorators, in a
    module-level ``pytestmark``, and inside ``pytest.param(..., marks=...)`` anywhere (those
    only reach a test through a parametrization). Markers elsewhere attach to nothing.
    """
    tree = ast.parse(source)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            for dec in node.decorator_list:
                found |= _ids_in(dec)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for dec in node.decorator_list:
                found |= _ids_in(dec)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "param":
            for kw in node.keywords:
                if kw.arg == "marks":
                    found |= _ids_in(kw.value)
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            found |= _ids_in(node.value)
    return found


IDS = spec_ids(SPEC.read_text(encoding="utf-8"))


def _marked_by_module() -> dict[Path, set[str]]:
    return {p: marked_ids(p.read_text(encoding="utf-8")) for p in test_modules()}


def test_spec_ids_are_found_and_numbered_without_gaps():
    """The parser finds R1..Rn and D1..Dm, each once: a changed spec format fails here, not silently."""
    assert len(IDS) == len(set(IDS)), sorted(i for i in IDS if IDS.count(i) > 1)
    for prefix in "RD":
        numbers = sorted(int(i[1:]) for i in IDS if i[0] == prefix)
        assert numbers and numbers == list(range(1, len(numbers) + 1)), (prefix, numbers)


@pytest.mark.parametrize("rule_id", IDS)
def test_spec_id_is_checked_by_a_marked_test(rule_id):
    marked = _marked_by_module()
    citing = [p for p, ids in marked.items() if rule_id in ids]
    assert citing, (
        f"{rule_id} of docs/spec.md is carried by no @pytest.mark.spec marker in the {len(marked)} "
        "test modules under tests/ and conformance/"
    )


def test_markers_name_only_spec_ids():
    """A marker naming an ID the spec does not define (a typo, a removed rule) fails."""
    unknown = {f"{p.relative_to(ROOT)}: {i}" for p, ids in _marked_by_module().items() for i in ids if i not in IDS}
    assert not unknown, sorted(unknown)


SAMPLE = '''
import pytest
pytestmark = [feature("x"), pytest.mark.spec("R11")]

# R99 in a comment cites nothing
@pytest.mark.spec("R1", "R2")
@pytest.mark.parametrize("x", [pytest.param(1, marks=pytest.mark.spec("R10")), 2])
def test_a(x):
    """R98 in a docstring cites nothing."""

def test_R97_in_a_name():
    pass

def helper():
    return pytest.mark.spec("R96")
'''


def test_marker_parser_on_a_sample():
    assert marked_ids(SAMPLE) == {"R1", "R2", "R10", "R11"}


def test_marker_arguments_must_be_literals():
    with pytest.raises(ValueError, match="string literals"):
        marked_ids("import pytest\n@pytest.mark.spec(RULE)\ndef test_x():\n    pass\n")


def test_spec_parser_on_a_sample():
    sample = "**R1 — Update.** see D4 and R2\n**R2 — Step.**\n| ID | x |\n| --- | --- |\n| D1 | a R13 |\n"
    assert spec_ids(sample) == ["R1", "R2", "D1"]
