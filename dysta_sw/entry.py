"""The ``dysta`` console script: Ctrl-C while the command line's modules load ends as cleanly as
Ctrl-C during a command (one line, exit status 130), not with an import traceback."""

import sys


def main(argv=None) -> int:
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        print("\ndysta: interrupted", file=sys.stderr)
        return 130
    return run(argv)
