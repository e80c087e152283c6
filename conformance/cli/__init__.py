"""The command line: ``adagrad-conformance check | explain | fixtures`` (``main``); ``check``
itself (``runner``) with its watchdog, and the probe that loads a target in a throw-away process."""

from adagrad.conformance.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
