"""The errors a user can cause and fix: each message says what was wrong, where, and
what is allowed. A stage turns them into one line on stderr and exit status 2."""


class BrainganError(RuntimeError):
    """Base of every error a stage reports as one clear line (exit status 2)."""


class ConfigError(BrainganError, ValueError):
    """A bad params.yaml: unknown key, wrong type, value outside what is allowed."""


class DataError(BrainganError):
    """Bad input data, a failed download, or a missing/damaged file of an earlier stage."""


class TrackingError(BrainganError):
    """The MLflow tracking store cannot be used (unreachable server, bad URI)."""
