"""One exception type for problems a user can fix (bad input, missing files, bad config).

Command-line entry points catch it and print a one-line message instead of a traceback.
"""


class TextcycleError(Exception):
    """An error whose message is meant for the user, not a developer."""


class ConfigError(TextcycleError):
    """A config file or option is wrong (unknown key, wrong type, missing file)."""
