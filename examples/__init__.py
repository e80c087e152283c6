"""Examples the docs reference, shipped in the wheel as ``adagrad/examples/``.

- ``ci/``: a GitHub Actions workflow and a GitLab job that check a package with the suite and
  keep its HTML report (``examples/ci/README.md``).
- ``exec/``: programs speaking the subprocess protocol (``check --exec``), in JavaScript: a correct
  Adagrad, a wrong one and hostile ones (hang, slow, unsupported cases, stderr noise); they share
  the hex decoder of ``adagrad/fixtures/readers/hexarray.mjs``.

Where they are in an installed package::

    python -c "import adagrad.examples as e; print(e.DIR)"
"""

from pathlib import Path

#: The folder holding ``ci/`` and ``exec/``.
DIR = Path(__file__).parent
