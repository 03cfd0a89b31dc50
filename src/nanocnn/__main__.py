"""``python -m nanocnn``: the same as the ``nanocnn`` command (``mpiexec -n 2 python -m
nanocnn train`` starts the ranks of a data-parallel run)."""

import sys

from nanocnn.cli import main

sys.exit(main())
