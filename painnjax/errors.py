"""Exceptions with messages a chemist can act on (file, frame, atom, field)."""


class PainnjaxError(ValueError):
    """Base class of painnjax's user-facing errors."""


class InputError(PainnjaxError):
    """A structure, species array or option is not usable (names what and where)."""


class ModelFileError(PainnjaxError):
    """A model file is missing, corrupt, of another format or of an unsupported version."""


class ConversionError(PainnjaxError):
    """A foreign model (e.g. SchNetPack) has a part painnjax cannot carry over exactly."""
