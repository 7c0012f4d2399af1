"""The one exception type for user errors (bad input, missing files, bad configs).

The CLI prints its message as a single line and exits 1; anything else is a bug and
shows a traceback (always with ``--debug``).
"""


class MobilevidError(Exception):
    """A user-facing error: the message is one line that says what is wrong and where."""
