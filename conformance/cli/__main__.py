"""``python -m adagrad.conformance.cli``: the ``adagrad-conformance`` command."""

import sys

from adagrad.conformance.cli.main import main

sys.exit(main())
