"""tunedoc's exceptions. Surfaces catch these and turn them into their own idiom (exit code, HTTP error body).

- TunedocError: base of everything tunedoc raises on purpose.
    - KnowledgeBaseError: an article, a group or a fixture in kb/ is malformed.
    - InputError: the input cannot be diagnosed at all (too large, not text).
    - IndexUnavailableError: the vector index cannot be built or reached.
"""


class TunedocError(Exception):
    """Base class for errors tunedoc raises on purpose."""


class KnowledgeBaseError(TunedocError):
    """An article, a group or a fixture in kb/ is malformed."""


class InputError(TunedocError):
    """The input cannot be diagnosed at all (too large, not text)."""


class IndexUnavailableError(TunedocError):
    """The vector index cannot be built or reached."""
