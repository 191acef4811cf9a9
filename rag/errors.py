"""Errors that speak to the user: each says what went wrong and what to do."""


class RagError(Exception):
    """Base class: the CLI prints the message on one line and exits non-zero."""


class SettingsError(RagError):
    """A setting has an unusable value."""


class IndexMissingError(RagError):
    """There is no index where the settings point."""


class IndexMismatchError(RagError):
    """The index on disk was built with other settings (model, chunker, format)."""


class DocumentError(RagError):
    """One file could not be read; the build reports it and goes on."""


class ModelError(RagError):
    """The embedding model is not installed or cannot be loaded offline."""


class QuestionError(RagError):
    """The question is empty or unusable."""


class IndexDamagedError(IndexMismatchError):
    """The index's files disagree with each other or cannot be read; `rag index` repairs it."""


class IndexBusyError(RagError):
    """Another build holds the index's lock."""


class NotAnIndexError(RagError):
    """--index-dir names a file, or a folder that holds other things than an index."""


class NoMatchError(RagError):
    """The filters exclude every report of the index."""
