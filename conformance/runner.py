"""``adagrad-conformance check``: placeholder until the suite lands."""
from __future__ import annotations
import argparse

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="check an Adagrad implementation")
    p.add_argument("target")
    p.set_defaults(func=lambda args: 2)
