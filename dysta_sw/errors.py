"""The one exception type that reports bad user input."""


class DystaInputError(ValueError):
    """Bad input from the user: a malformed file, an unknown name or an impossible parameter.

    The message names the input (file and row, option or name), the problem and the fix.
    The command-line interface prints it without a traceback and exits with status 2.
    """


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT), raised again at a check point after a library swallowed the first one."""


#: Set by the ``dysta`` command line's SIGINT handler; see :func:`check_interrupt`.
interrupted = False


def check_interrupt() -> None:
    """Raise :class:`Interrupted` if Ctrl-C was pressed: some libraries (numpy's string conversion)
    swallow a ``KeyboardInterrupt`` raised inside them, so long loops check here too."""
    if interrupted:
        raise Interrupted
