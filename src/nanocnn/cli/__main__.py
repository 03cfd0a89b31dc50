"""``python -m nanocnn.cli``: the same as the ``nanocnn`` command."""

import sys

from nanocnn.cli import main

sys.exit(main())
