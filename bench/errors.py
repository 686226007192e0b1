"""The one exception type for mistakes a user can make (paths, columns, names, values).

The CLI turns it into a one-line message and exit code 2; anything else is a bug and keeps
its traceback.
"""


class UserError(Exception):
    """A problem with the user's input: the message names the file or option and the fault."""
