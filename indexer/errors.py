"""Domain errors of the indexer and its read side; only the service maps them to HTTP."""

from model.errors import StemJepaError


class IndexerError(StemJepaError):
    """Base class of the indexer's errors."""


class CatalogueNotFoundError(IndexerError):
    """No published index (manifest) in the index directory, or a database without the schema."""


class IndexMismatchError(IndexerError):
    """The index was built by another checkpoint or embedding version than the one asked for."""

    def __init__(self, what: str, index_value: str, expected: str) -> None:
        self.what = what
        self.index_value = index_value
        self.expected = expected
        super().__init__(
            f"index {what} {index_value!r} does not match the model's {expected!r}; "
            "rebuild the index with this checkpoint (stemjepa index ... --rebuild)"
        )
