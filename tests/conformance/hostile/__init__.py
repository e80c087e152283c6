"""Hostile targets: each attacks the suite's verdict in one way (tests/conformance/test_hostile.py)."""
