"""Every rule and divergence of docs/spec.md is cited by at least one test.

A rule is defined where a paragraph of the spec starts with its bold ID (``**R7 — eps.**``); a
divergence where a row of the divergence table starts with its ID (``| D1 | ...``). IDs
mentioned elsewhere (cross-references such as "see D4") define nothing. A test cites an ID by
naming it anywhere in a test module (``test_*.py`` under ``tests/`` or ``conformance/``, the
suite's feature modules included): in a test's name (``test_zero_grad_keeps_param_R7``), its
docstring or a comment. ``R1`` is not cited by ``R13``: an ID must not be followed by a digit
or preceded by a letter or digit.
"""

from __future__ import annotations

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
    """The test modules that may cite an ID (this file excluded: it cites nothing)."""
    this = Path(__file__).resolve()
    return sorted(p for d in TEST_DIRS for p in d.rglob("test_*.py") if p.resolve() != this)


def cites(text: str, rule_id: str) -> bool:
    return re.search(rf"(?<![A-Za-z0-9]){rule_id}(?!\d)", text) is not None


IDS = spec_ids(SPEC.read_text(encoding="utf-8"))


def test_spec_ids_are_found_and_numbered_without_gaps():
    """The parser finds R1..Rn and D1..Dm, each once: a changed spec format fails here, not silently."""
    assert len(IDS) == len(set(IDS)), sorted(i for i in IDS if IDS.count(i) > 1)
    for prefix in "RD":
        numbers = sorted(int(i[1:]) for i in IDS if i[0] == prefix)
        assert numbers and numbers == list(range(1, len(numbers) + 1)), (prefix, numbers)


@pytest.mark.parametrize("rule_id", IDS)
def test_spec_id_is_cited_by_a_test(rule_id):
    modules = test_modules()
    citing = [p for p in modules if cites(p.read_text(encoding="utf-8"), rule_id)]
    assert citing, f"{rule_id} of docs/spec.md is cited by none of the {len(modules)} test modules under tests/ and conformance/"


@pytest.mark.parametrize(
    "text, rule_id, expected",
    [
        ("def test_zero_grad_keeps_param_R7():", "R7", True),
        ('"""Per-group tau (R13, D1)."""', "R13", True),
        ('"""Per-group tau (R13, D1)."""', "D1", True),
        ("R13 only", "R1", False),
        ("DR1 PR1 R1x", "R1", True),  # R1x: a letter after the ID is fine, a letter before is not
        ("DR1 PR1", "R1", False),
        ("R10", "R1", False),
    ],
)
def test_citation_matching(text, rule_id, expected):
    assert cites(text, rule_id) is expected


def test_spec_parser_on_a_sample():
    sample = "**R1 — Update.** see D4 and R2\n**R2 — Step.**\n| ID | x |\n| --- | --- |\n| D1 | a R13 |\n"
    assert spec_ids(sample) == ["R1", "R2", "D1"]
