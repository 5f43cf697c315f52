"""``python -m profiling``: see :func:`profiling.cli.main`."""

import sys

from .cli import main

sys.exit(main())
