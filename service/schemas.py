"""Request and response bodies of the API (pydantic), the contract the OpenAPI document publishes."""

from typing import Any

from pydantic import BaseModel, Field


class ErrorInfo(BaseModel):
    status: int = Field(description="HTTP status, repeated in the body.")
    code: str = Field(description="Stable machine-readable error code, e.g. `unknown_instrument`.")
    message: str = Field(description="What went wrong, for people.")
    detail: Any = Field(None, description="Structured detail (validation errors, known values), if any.")


class ErrorBody(BaseModel):
    """The one shape of every error answer."""

    error: ErrorInfo


class QueryInfo(BaseModel):
    filename: str
    instrument: str
    duration_seconds: float = Field(description="Length of the whole upload (s).")
    sample_rate: int = Field(description="Rate the model hears the query at (Hz).")
    start_seconds: float = Field(description="Start of the section used as the query (s).")
    section_seconds: float = Field(description="Length of the section used as the query (s).")


class CatalogueInfo(BaseModel):
    searched: int = Field(description="Stems the query was ranked against (the instrument's, when filtered).")
    total: int = Field(description="Stems in the whole catalogue.")
    instrument_filter: bool


class Timings(BaseModel):
    decode_ms: float
    embed_ms: float
    search_ms: float
    align_ms: float
    total_ms: float


class CurveOut(BaseModel):
    offsets_seconds: list[float] = Field(description="Candidate offsets (s), one per frame lag (0.16 s).")
    similarity: list[float] = Field(description="Mean cosine similarity of query and stem frames at each offset.")


class RetrieveResult(BaseModel):
    rank: int = Field(description="1 = best.")
    stem_id: int
    song_id: int
    title: str | None
    artist: str | None
    instrument: str
    name: str = Field(description="The stem's name in its song (file or stream name).")
    duration_seconds: float | None
    score: float = Field(description="Cosine similarity of the predicted and the stem embedding.")
    normalised_rank: float = Field(description="rank / searched catalogue size, in (0, 1].")
    offset_seconds: float = Field(
        description="Where the stem lines up with the upload: positive = start the stem this many seconds into "
        "the mix; negative = start the mix this many seconds into the stem."
    )
    alignment_score: float = Field(description="Mean frame similarity at the offset.")
    offset_refined: bool = Field(
        description="Whether onset, accent and chroma correlation at 10 ms refined the frame-level offset."
    )
    offset_alternatives_seconds: list[float] = Field(
        default_factory=list, description="Runner-up offsets of refined hits, best first (same convention as "
        "offset_seconds): other lags where the stem also lines up, often a bar or a phrase away.")
    audio_url: str
    curve: CurveOut | None = Field(None, description="Similarity versus offset, when requested with curve=true.")


class RetrieveResponse(BaseModel):
    query: QueryInfo
    catalogue: CatalogueInfo
    model: str = Field(description="Model name and checkpoint hash prefix.")
    timings: Timings
    results: list[RetrieveResult]


class StemOut(BaseModel):
    id: int
    song_id: int
    song_key: str | None = None
    title: str | None
    artist: str | None
    instrument: str
    name: str
    duration_seconds: float | None
    sample_rate: int | None
    audio_url: str


class StemPage(BaseModel):
    items: list[StemOut]
    total: int = Field(description="Stems matching the filters, over all pages.")
    offset: int
    limit: int


class SongOut(BaseModel):
    id: int
    key: str
    title: str | None
    artist: str | None
    instruments: list[str] = Field(description="Instruments of the song's indexed stems.")
    stem_count: int


class SongPage(BaseModel):
    items: list[SongOut]
    total: int = Field(description="Songs matching the filter, over all pages.")
    offset: int
    limit: int


class IndexJobRequest(BaseModel):
    source: str | None = Field(
        None, description="Folder to index, relative to the configured catalogue_dir; empty = all of it."
    )
    rebuild: bool = Field(False, description="Re-embed every stem instead of only new or changed ones.")


class IndexJobOut(BaseModel):
    id: str
    status: str = Field(description="queued, running, succeeded or failed.")
    source: str
    progress: float = Field(description="Fraction done, 0..1.")
    message: str | None = None
    created_at: float
    finished_at: float | None = None
    result: dict[str, Any] | None = None


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    model_loaded: bool
    index_loaded: bool
    detail: str | None = None


class Info(BaseModel):
    service_version: str
    model: str
    checkpoint: str
    checkpoint_hash: str
    embedding_version: str
    device: str
    instruments: list[str]
    embedding_dim: int
    frame_dim: int
    frame_seconds: float
    parameters: int
    index_size: int
    index_size_by_instrument: dict[str, int]
    limits: dict[str, float]
