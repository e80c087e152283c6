"""Diagnosis: name the semantic difference behind a NON-CONFORMANT verdict (issue 14).

A failing target's cases are replayed (from the target's saved trajectories, without running it
again) against a catalogue of known variants of Adagrad, alone and in pairs, under the suite's
error model; the variants that put every numerical failure within the model are named.
``docs/diagnosis.md`` lists the catalogue and explains how to read a diagnosis.

- :func:`diagnose` (records -> :class:`Diagnosis`), :class:`Record` (case + target trajectory).
- :data:`CATALOGUE` of :class:`Variant`; :func:`semantics_of` and :func:`trajectory` let a
  variant play the target.
"""

from adagrad.conformance.diagnosis.catalogue import CATALOGUE, semantics_of, variant
from adagrad.conformance.diagnosis.records import Record, from_run_state
from adagrad.conformance.diagnosis.replay import replay, trajectory
from adagrad.conformance.diagnosis.result import Diagnosis, Explanation
from adagrad.conformance.diagnosis.search import diagnose
from adagrad.conformance.diagnosis.semantics import NotReplayable, Semantics
from adagrad.conformance.diagnosis.variant import Fit, Variant

__all__ = [
    "CATALOGUE",
    "Diagnosis",
    "Explanation",
    "Fit",
    "NotReplayable",
    "Record",
    "Semantics",
    "Variant",
    "diagnose",
    "from_run_state",
    "replay",
    "semantics_of",
    "trajectory",
    "variant",
]
