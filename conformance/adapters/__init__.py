"""Adapters: Adagrads that are not torch optimizers, run by the unchanged conformance suite.

The suite drives a target through torch's Optimizer API. An adapter presents another kind of
implementation through that API, so that :func:`~adagrad.conformance.engine.harness.check_case` and
every feature test keep working unchanged:

- :mod:`.functional`: a Python object with ``init(params, hyperparameters) -> state`` and
  ``step(state, params, grads) -> (params, state)`` over NumPy arrays (``check --adapter
  functional module:attr``);
- :mod:`.subprocess_protocol`: an external program speaking JSON lines on stdin/stdout, in
  any language (``check --exec "COMMAND"``);
- one module per library (``optax_adagrad``, ``keras_adagrad``, ...), each a functional
  implementation that maps torch's hyperparameters faithfully onto the library's Adagrad.

Features an implementation does not claim are excluded and reported as *unsupported*; a
hyperparameter it cannot express raises :class:`Unsupported`, which the bridge turns into a
rejected example (inside hypothesis) or a skipped test with the reason (outside it).
"""

from __future__ import annotations

from adagrad.conformance.adapters.base import ADAPTERS, CLAIMABLE, AdapterError, Resolved, Unsupported, resolve

__all__ = ["ADAPTERS", "CLAIMABLE", "AdapterError", "Resolved", "Unsupported", "resolve"]
