"""The local model's errors, shared by the GGUF check and the weights' assembly."""


class LocalModelError(RuntimeError):
    """Base class for local-model problems."""


class ModelPartsMissingError(LocalModelError):
    """A weight part is not installed, or is installed at another version than the pin."""


class ModelIntegrityError(LocalModelError):
    """The weights differ from what is pinned/expected (hash, size, GGUF header or metadata)."""
