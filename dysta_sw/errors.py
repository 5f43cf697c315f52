"""The one exception type that reports bad user input."""


class DystaInputError(ValueError):
    """Bad input from the user: a malformed file, an unknown name or an impossible parameter.

    The message names the input (file and row, option or name), the problem and the fix.
    The command-line interface prints it without a traceback and exits with status 2.
    """
