"""The pytest integration (entry point ``adagrad_conformance``): options, the target fixture,
collection and seeding, outcomes (target escapes are failures), the run state streamed to
``check``, hypothesis profiles and the known divergences."""
