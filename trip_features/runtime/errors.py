"""The one error type every job answers with a one-line message and exit code 2."""


class JobError(RuntimeError):
    """A job cannot run as asked, or its input or output fails a check; the message says what
    to fix."""


class ConfigError(ValueError):
    """The configuration is missing, malformed, or an override names no key."""
