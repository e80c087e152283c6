"""The engine: everything a check of one case needs, apart from pytest.

- ``case``, ``codec``, ``tensor_bits``: the case model and its exact, bit-pattern encoding.
- ``dtypes``, ``error_terms``, ``scaled_error``, ``error_model``, ``comparison``: the dtype table
  and ulps, the error model (one step's terms, scaled bounds, the bound over a trajectory), the
  comparison of a target's values with the oracle's (run in ``oracle_service``'s own process).
- ``target``, ``target_spec``: naming a target; its state mapping, claims and refusals.
- ``harness``: running a case on a target and judging it; ``strategies``: drawing cases.
- ``distributed_plan``, ``distributed_model``, ``distributed_spawn``, ``distributed_ranks``: the
  distributed feature's configurations and results, the model the ranks train, starting them, and
  the rank process itself.
"""
