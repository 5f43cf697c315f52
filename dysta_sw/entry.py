"""The ``dysta`` console script: Ctrl-C while the command line's modules load ends as cleanly as
Ctrl-C during a command (one line, exit status 130), not with an import traceback."""

import signal
import sys
import threading


def main(argv=None) -> int:
    pressed = []

    def on_sigint(signum, frame):
        pressed.append(signum)
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, on_sigint) if main_thread else None
    try:
        from .cli import main as run
    except KeyboardInterrupt:
        print("\ndysta: interrupted", file=sys.stderr)
        return 130
    except Exception:
        if pressed:  # an extension module being initialised turns a Ctrl-C into an ImportError
            print("\ndysta: interrupted", file=sys.stderr)
            return 130
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    return run(argv)
