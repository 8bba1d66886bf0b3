"""Request and response bodies of the API (pydantic), the contract the OpenAPI document publishes."""

from typing import Any

from pydantic import BaseModel, Field

from service.params import MAX_SOURCE, NO_NUL


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
    bpm: float | None = Field(None, description="Detected tempo of the query section (BPM); null if none found.")
    bpm_confidence: float = Field(0.0, description="Strength of the tempo's periodicity, 0-1.")
    key: str | None = Field(None, description="Detected key of the query section, e.g. 'A minor'.")
    camelot: str | None = Field(None, description="Camelot code of `key`, e.g. '8A'.")
    key_confidence: float = Field(0.0, description="Best key's correlation minus the runner-up's (0-2).")
    key_alternative: str | None = Field(
        None, description="The runner-up key when the call is close (`key_confidence` below the analysis's "
        "close-call margin, where the runner-up was the song's key about half as often as `key`); else null.")
    key_alternative_camelot: str | None = Field(None, description="Camelot code of `key_alternative`.")
    beat_period_seconds: float | None = Field(None, description="Beat period (s) of the detected beat grid.")
    beats_per_bar: int | None = Field(None, description="Detected meter: 3 or 4 beats per bar.")
    downbeat_seconds: float | None = Field(
        None, description="First bar start of the beat grid (s from the upload's start)."
    )
    query_id: str | None = Field(
        None, description="Id for POST /retrieve/{query_id}/refine, which refines the offsets of the results this "
        "answer did not refine (`offset_refined` false beyond the server's `refine_top`); null when every result "
        "was refined or the server keeps no queries. Kept by the replica that answered, for `query_cache_seconds`.")


class CatalogueInfo(BaseModel):
    searched: int = Field(description="Stems the query was ranked against (the instrument's, when filtered).")
    total: int = Field(description="Stems in the whole catalogue.")
    instrument_filter: bool
    candidates: int = Field(0, description="Stems re-ranked by the fusion: the model's nearest `rank_pool` of the "
                            "searched stems and, with rank=fused, the `rank_pool` whose musical features fit best "
                            "(all of a catalogue that size or smaller).")
    matching: int = Field(0, description="Candidates that passed the BPM and key filters.")
    build: int = Field(0, description="The published index build that answered (every part of one answer comes "
                       "from one build).")
    unavailable: int = Field(0, description="Candidates of that build that could not be served (their stem was "
                             "removed from the catalogue after the build was published); the next candidates took "
                             "their places.")


class Timings(BaseModel):
    decode_ms: float
    embed_ms: float = Field(description="Embedding, which runs while the query is analysed.")
    analyse_ms: float = Field(0.0, description="Musical analysis of the query (tempo, beats, key, signature).")
    search_ms: float
    align_ms: float
    total_ms: float


class CurveOut(BaseModel):
    offsets_seconds: list[float] = Field(description="Candidate offsets (s), one per frame lag (0.16 s).")
    similarity: list[float] = Field(description="Mean cosine similarity of query and stem frames at each offset.")
    fused_offsets_seconds: list[float] = Field(
        default_factory=list, description="Offsets (s) of the fused curve (model, onsets, accents and harmony at "
        "10 ms: the curve that chose `offset_seconds`), at most 1,500 points, each its block's best lag; empty "
        "for a result whose offset was not refined.")
    fused: list[float] = Field(default_factory=list, description="The fused curve's value at each of those offsets.")


class ScoreParts(BaseModel):
    model: float = Field(description="Cosine similarity of the predicted and the stem embedding.")
    key: float | None = Field(
        None, description="Cosine of the query's and the stem's 24-d key profiles after the suggested "
        "transposition, less 0.02 per semitone; null for a stem without analysis.")
    chroma: float | None = Field(
        None, description="Cosine of the mean pitch-class profiles after the suggested transposition.")
    tempo: float | None = Field(
        None, description="Tempo agreement 0-1 after the suggested stretch (x2, x1/2, x3 and x1/3 allowed; a 4 % "
        "mismatch beyond the allowed stretch costs one sigma), less a small cost per unit of stretch.")
    rhythm: float | None = Field(
        None, description="Correlation of the octave-folded tempograms after the suggested stretch.")
    fused: float = Field(
        description="Weighted sum of the parts, each standardised over this query's candidates (see /info).")


class OffsetOut(BaseModel):
    offset_seconds: float = Field(description="Where the stem lines up with the upload (as `offset_seconds`).")
    confidence: float | None = Field(
        None, description="Estimated probability (0-1) that this is the stem's right place, within 160 ms; null "
        "where none is estimated.")


class RetrieveResult(BaseModel):
    rank: int = Field(description="1 = best.")
    stem_id: int
    song_id: int
    title: str | None
    artist: str | None
    instrument: str
    name: str = Field(description="The stem's name in its song (file or stream name).")
    duration_seconds: float | None
    score: float = Field(
        description="The score the result was ranked by: `score_parts.fused` with rank=fused, the model's cosine "
        "(`score_parts.model`) with rank=model.")
    score_parts: ScoreParts
    bpm: float | None = Field(None, description="The stem's detected tempo (BPM); null before it is analysed.")
    key: str | None = Field(None, description="The stem's detected key, e.g. 'A minor'.")
    camelot: str | None = Field(None, description="Camelot code of the stem's key, e.g. '8A'.")
    transpose_semitones: int = Field(
        0, description="Semitones to shift the stem's pitch so that it fits the mix's key (0: as it is).")
    stretch_ratio: float = Field(
        1.0, description="Tempo factor to apply to the stem (faster > 1, pitch unchanged) so that it fits the mix's "
        "tempo (1: as it is). Offsets refer to the stem conformed by this factor.")
    conformed_bpm: float | None = Field(None, description="The stem's tempo after `stretch_ratio`.")
    conformed_key: str | None = Field(None, description="The stem's key after `transpose_semitones`.")
    conformed_camelot: str | None = Field(None, description="Camelot code of `conformed_key`.")
    normalised_rank: float = Field(description="rank / searched catalogue size, in (0, 1].")
    offset_seconds: float = Field(
        description="Where the stem lines up with the upload: positive = start the stem this many seconds into "
        "the mix; negative = start the mix this many seconds into the stem."
    )
    offset_confidence: float | None = Field(
        None, description="Estimated probability (0-1) that `offset_seconds` is the stem's right place (within "
        "160 ms): the bar-level placement's softmax over the candidate offsets; null where the offset was not "
        "refined or placement is off.")
    alignment_score: float = Field(description="Mean frame similarity at the offset.")
    offset_refined: bool = Field(
        description="Whether onset, accent and chroma correlation at 10 ms refined the frame-level offset."
    )
    offset_alternatives_seconds: list[float] = Field(
        default_factory=list, description="Runner-up offsets of refined hits, best first (same convention as "
        "offset_seconds): other lags where the stem also lines up, often a bar or a phrase away.")
    offset_alternatives: list[OffsetOut] = Field(
        default_factory=list, description="The same runner-up offsets, each with its confidence.")
    audio_url: str
    curve: CurveOut | None = Field(None, description="Similarity versus offset, when requested with curve=true.")


class RetrieveResponse(BaseModel):
    query: QueryInfo
    catalogue: CatalogueInfo
    model: str = Field(description="Model name and checkpoint hash prefix.")
    rank: str = Field("model", description="How the results were ranked: fused or model.")
    timings: Timings
    results: list[RetrieveResult]


class RefineRequest(BaseModel):
    stem_ids: list[int] = Field(min_length=1, max_length=100,
                                description="Results of the query (their `stem_id`) whose offsets to refine.")


class RefineResponse(BaseModel):
    query_id: str
    results: list[RetrieveResult] = Field(
        description="The results asked for, in the order asked, as /retrieve returned them but with their offset "
        "fields (offset_*, alignment_score, curve) refined.")
    unavailable: list[int] = Field(
        default_factory=list, description="Stems asked for that the catalogue no longer serves (removed since).")


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
    bpm: float | None = Field(None, description="Detected tempo (BPM); null before the stem is analysed.")
    key: str | None = Field(None, description="Detected key, e.g. 'A minor'.")
    camelot: str | None = Field(None, description="Camelot code of the key, e.g. '8A'.")
    beats_per_bar: int | None = Field(None, description="Detected meter: 3 or 4 beats per bar.")


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
        None, max_length=MAX_SOURCE, pattern=NO_NUL,
        description="Folder to index, relative to the configured catalogue_dir; empty = all of it.",
    )
    rebuild: bool = Field(False, description="Re-embed every stem instead of only new or changed ones.")


class IndexJobOut(BaseModel):
    id: int = Field(description="The job's id: its row in the catalogue database, the same on every replica.")
    status: str = Field(description="queued, running, succeeded or failed.")
    source: str = Field(description="The folder indexed.")
    progress: float = Field(description="Fraction done, 0..1: stems committed of the stems to embed.")
    message: str | None = Field(None, description="The error of a failed job; the run time of a succeeded one.")
    created_at: float = Field(description="When the job was queued (Unix time, s).")
    finished_at: float | None = Field(None, description="When it finished (Unix time, s).")
    result: dict[str, Any] | None = Field(
        None, description="Of a succeeded job: build, added, skipped, failed, removed, indexed_total, audio_seconds, "
        "seconds.")


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
