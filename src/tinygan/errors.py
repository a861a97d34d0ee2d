"""The errors a command reports in one line, beside `config.ConfigError`: plain classes that import nothing, so
the command line can catch them without loading the modules that raise them."""


class RunError(ValueError):
    """A run folder or output path that cannot be used."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, damaged, changed, or from another format."""


class ExportError(ValueError):
    """A generator file that cannot be written or read: one line naming the file and what is wrong."""
