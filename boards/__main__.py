"""``python -m boards``: build a board (``build``), or run the shipped workload on one (``run``)."""

import sys

from .cli import main

sys.exit(main())
