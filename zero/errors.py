"""The one error a bad config raises. Its own module so that the ground floor (zero.templates, zero.config) shares
it without importing each other; `zero.config` re-exports it."""


class ConfigError(ValueError):
    """A bad config: the message names the problem and the fix. `zero` commands exit with code 2 on it."""
