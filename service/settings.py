"""Service settings: every limit and location is a documented field, read from `STEMJEPA_*` environment variables."""

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from analysis.alignment import DEFAULT_FUSION, MIN_OVERLAP_SECONDS, UNPITCHED_INSTRUMENTS, FusionWeights
from analysis.compatibility import DEFAULT_HUB_DISCOUNT, DEFAULT_TEMPO_TOLERANCE, CompatWeights
from analysis.compatibility import DEFAULT_WEIGHTS as RANK_WEIGHTS
from analysis.placement import CANDIDATES as PLACEMENT_CANDIDATES
from analysis.placement import DEFAULT_PLACEMENT, PlacementWeights
from indexer.settings import StorageSettings

RANK_POOL = 1000
MAX_TRANSPOSE = 0
MAX_STRETCH = 0.0
WEIGHTS_NOTE = "Chosen on MUSDB train songs and the sibling selection set (MODEL_CARD.md)."


def _split(value: Any) -> Any:
    """Accepts 'a,b' as well as a list, so list settings read naturally from one environment variable."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value



class ServiceSettings(StorageSettings):
    """Configuration of the retrieval API. Environment variable = `STEMJEPA_` + upper-case field name.
    Index, database, checkpoint and device come from StorageSettings, shared with the indexer."""

    model_config = SettingsConfigDict(env_prefix="STEMJEPA_", extra="ignore", frozen=True)

    # ---- where things are (besides the storage fields) ----------------------------------------------------------
    catalogue_dir: Path | None = Field(
        None, description="Root folder that index jobs may scan; job sources must lie inside it."
    )
    cache_dir: Path = Field(
        Path("stemjepa-data/cache"), description="Decoded audio of multi-stream stems, served as FLAC."
    )

    # ---- limits -----------------------------------------------------------------------------------------------
    max_upload_bytes: int = Field(
        50 * 1024 * 1024, gt=0, description="Largest accepted request body (bytes); larger: 413."
    )
    max_audio_seconds: float = Field(300.0, gt=0, description="Longest accepted query audio (s); longer: 413.")
    max_sample_rate: int = Field(
        192_000, gt=0, description="Highest accepted sample rate of query audio (Hz), from the header; higher: 413."
    )
    max_channels: int = Field(8, gt=0, description="Most channels accepted in query audio; more: 413.")
    max_decoded_samples: int = Field(
        28_800_000, gt=0, description="Most samples (frames x channels, float32) one query may decode to: 300 s of "
        "48 kHz stereo; more: 413. Checked from the header and again while decoding; with max_concurrent_decodes "
        "it bounds decoding memory (README, Limits).",
    )
    max_concurrent_decodes: int = Field(
        2, gt=0, description="Uploads (and catalogue stream extractions) decoded at once; the others wait their turn.",
    )
    min_audio_seconds: float = Field(
        1.0, gt=0, description="Shortest accepted query audio or section (s); shorter: 400."
    )
    silence_dbfs: float = Field(-60.0, description="Query audio quieter than this RMS level (dBFS) is silence: 400.")
    default_k: int = Field(10, gt=0, description="Results returned when the request names no k.")
    max_k: int = Field(100, gt=0, description="Largest k a request may ask for; larger: 422.")

    # ---- inference --------------------------------------------------------------------------------------------
    batch_max_size: int = Field(8, gt=0, description="Most queries embedded in one forward pass (micro-batching).")
    batch_wait_ms: float = Field(4.0, ge=0, description="How long the batcher waits for company after a query arrives.")
    embed_batch_size: int | None = Field(
        None, gt=0, description="Windows per forward pass inside the embedder; default by device: 4 on a CPU (the "
        "activations stay in cache; same outputs), 16 on a GPU.")
    embed_threads: int = Field(
        2, ge=1, le=64, description="Threads of the CPU compute pool that runs a query's music analysis and its "
        "forward passes side by side, each with the one intra-op thread of `threads` (the analysis takes one "
        "worker while the passes go through the others, so the cores are never oversubscribed): a lone 30 s query "
        "embeds in about half the time (the windows of a 3-minute one in two thirds) at the same CPU; queries "
        "longer than about 4 minutes run one pass after another, to bound memory "
        "(model.embed.PARALLEL_MAX_WINDOWS). 1: always one after another, the analysis in a thread of its own.",
    )
    min_overlap_seconds: float = Field(
        MIN_OVERLAP_SECONDS, gt=0, description="Alignment lags with less stem/mix overlap are not scored."
    )
    align_threads: int = Field(
        2, ge=1, le=64, description="Threads that align a request's hits side by side while it is the only "
        "request in flight (the transforms release the GIL); with others in flight each request aligns its hits "
        "in its own thread, as the cores are busy anyway. 1: never side by side.",
    )
    refine_top: int = Field(
        5, ge=0,
        description="Results whose offsets /retrieve refines with onset, accent and chroma correlation at 10 ms and "
        "bar-level placement (about 25 ms of CPU each); the others carry the model curve's coarse offset "
        "(`offset_refined` false) until POST /retrieve/{query_id}/refine refines them, as the page does while "
        "it shows the first ones. 0: none.",
    )
    query_cache_entries: int = Field(
        64, ge=0, description="Answered queries whose frames and analysis stay in memory so that their other "
        "results can be refined (POST /retrieve/{query_id}/refine); least recently used first out. 0: none kept.",
    )
    query_cache_mib: float = Field(
        64.0, gt=0, description="Memory the kept queries may take together (MiB; a 30 s query takes about 0.3).",
    )
    query_cache_seconds: float = Field(
        900.0, gt=0, description="How long after its answer a query stays refinable (s).",
    )
    onset_weight: float = Field(
        DEFAULT_FUSION.onset, ge=0,
        description="Weight of the band onset correlation (attacks to 10 ms) fused with the model's similarity "
        "curve (weight 1) over all lags for the refined hits; with the harmony and accent weights also 0: model "
        "curve only, then a local onset refinement. Chosen on MUSDB train songs (scripts/alignment_sweep.py), "
        "keeping the beat phase of long audio (scripts/alignment_long.py).",
    )
    harmony_weight: float = Field(
        DEFAULT_FUSION.harmony, ge=0,
        description="Weight of the chroma correlation in the same fusion: it tells a bar from its neighbour "
        "where the rhythm repeats. Chosen with onset_weight.",
    )
    accent_weight: float = Field(
        DEFAULT_FUSION.accent, ge=0,
        description="Weight of the accent correlation in the same fusion (band onsets blurred over 0.1 s): on "
        "which beat the parts' notes cluster. Chosen with onset_weight.",
    )
    offset_alternatives: int = Field(
        2, ge=0, le=10, description="Further offsets returned per refined hit, each with its confidence: the "
        "next-best candidates of the placement, at least 0.15 s apart (most of its wrong choices lie a sixteenth "
        "to a beat from the right one), or, without it, the fused alignment curve's next peaks at least 0.5 s "
        "apart (loop-based music often fits a bar or a phrase away too).",
    )
    placement: bool = Field(
        True, description="Choose each refined hit's offset among the fused curve's peaks by bar-level evidence "
        "(beat-synchronous chroma and onset patterns, section structure, downbeats, overlap; analysis.placement) and "
        "give every offset a confidence; false: the fused curve's highest peaks, without confidences. Weights "
        "fitted on development data only (scripts/alignment_long.py --fit).",
    )
    placement_candidates: int = Field(
        PLACEMENT_CANDIDATES, ge=1, le=1000,
        description="Peaks of the fused curve (at least 0.12 s apart) that placement rescores per refined hit.",
    )
    unpitched_instruments: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(UNPITCHED_INSTRUMENTS),
        description="Instruments whose stems carry no pitch classes (comma-separated): their alignment leaves the "
        "chroma term out (on MUSDB train songs it cost drums 4 points), and their ranking the key and pitch-class "
        "terms.",
    )
    rank: Literal["fused", "model"] = Field(
        "fused", description="Default ranking of /retrieve: `fused` (the model's cosine with the stems' key, pitch "
        "classes, tempo and rhythm, each standardised over the candidates) or `model` (its cosine alone).",
    )
    rank_pool: int = Field(
        RANK_POOL, gt=0, description="Candidates the fused ranking re-ranks: this many of the model's nearest stems "
        "of the searched instrument, and as many whose key and tempo alone fit best (all of a catalogue that size "
        "or smaller).",
    )
    rank_key_weight: float = Field(
        RANK_WEIGHTS.key, ge=0, description="Weight of the key-profile similarity in the fused ranking, relative to "
        "the model's 1. " + WEIGHTS_NOTE,
    )
    rank_chroma_weight: float = Field(
        RANK_WEIGHTS.chroma, ge=0, description="Weight of the pitch-class similarity in the fused ranking.",
    )
    rank_tempo_weight: float = Field(
        RANK_WEIGHTS.tempo, ge=0, description="Weight of the tempo agreement in the fused ranking.",
    )
    rank_rhythm_weight: float = Field(
        RANK_WEIGHTS.rhythm, ge=0, description="Weight of the folded-tempogram correlation in the fused ranking.",
    )
    rank_hub_discount: float = Field(
        DEFAULT_HUB_DISCOUNT, ge=0, le=2, description="Within one instrument, the fused ranking takes the model's "
        "cosine less this times the stem's cosine with the instrument's mean query direction (the checkpoint's "
        "query-centres file), so hub stems stop topping unrelated queries. Chosen with the weights.",
    )
    rank_tempo_tolerance: float = Field(
        DEFAULT_TEMPO_TOLERANCE, gt=0, le=0.5, description="Tempo mismatch (fraction, beyond the allowed stretch) "
        "that costs one sigma of tempo agreement. Chosen with the weights.",
    )
    max_transpose: int = Field(
        MAX_TRANSPOSE, ge=0, description="Default transposition (semitones either way) a stem may get to fit the "
        "mix's key; a request may ask for up to max_transpose_limit.",
    )
    max_transpose_limit: int = Field(6, ge=0, le=6, description="Largest max_transpose a request may ask for.")
    max_stretch: float = Field(
        MAX_STRETCH, ge=0, description="Default tempo change a stem may get to fit the mix (0.08 = +-8 %); a "
        "request may ask for up to max_stretch_limit.",
    )
    max_stretch_limit: float = Field(0.25, ge=0, le=0.5, description="Largest max_stretch a request may ask for.")
    refine_window_seconds: float = Field(
        0.16, gt=0, description="Half-width of the onset-refinement search (s): one frame."
    )
    conform_workers: int = Field(
        2, gt=0, le=16, description="Conformings (Rubber Band transposition and time-stretch of a stem) run at once; "
        "each is cached under cache_dir/conformed.",
    )
    load_in_background: bool = Field(
        True, description="Load model and index after start-up; /readyz is 503 until done."
    )

    # ---- index jobs and replicas -------------------------------------------------------------------------------
    run_index_jobs: bool = Field(
        True, description="Run queued index jobs (POST /index-jobs, from any replica) in this process, one at a "
        "time; false where `stemjepa index-worker` runs them (docker compose's GPU worker).",
    )
    index_jobs_poll_seconds: float = Field(
        2.0, gt=0, description="How often this process's job runner looks for jobs queued by other replicas (s).",
    )
    max_queued_jobs: int = Field(
        20, gt=0, description="Most index jobs waiting to run (all replicas); POST /index-jobs beyond it: 429.",
    )
    catalogue_poll_seconds: float = Field(
        5.0, ge=0, description="How often the API looks for an index build published by another process (a "
        "worker, another replica) and loads it (s); 0: only after its own jobs.",
    )

    # ---- access -----------------------------------------------------------------------------------------------
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Keys accepted for index jobs (comma-separated); none: index jobs are refused.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed by CORS (comma-separated); none: same-origin only."
    )
    host: str = Field("127.0.0.1", description="Address `stemjepa serve` binds to.")
    port: int = Field(8000, gt=0, lt=65536, description="Port `stemjepa serve` binds to.")

    # ---- slow clients ---------------------------------------------------------------------------------------
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest a request's line and headers may take to arrive (s), from its first byte "
        "(from connecting, for a connection's first request); slower: 408 and the connection is closed (one that "
        "sent nothing is just closed). `stemjepa serve` only: a server of your own must bound this itself.",
    )
    body_timeout_seconds: float = Field(
        120.0, gt=0, description="Longest a request's body may take to arrive (s), from the end of its headers; "
        "slower: 408 and the connection is closed. 120 s lets a 50 MB upload through at 3.5 Mbit/s.",
    )
    keep_alive_seconds: int = Field(
        5, gt=0, description="How long an idle keep-alive connection stays open between requests (s).",
    )
    max_header_bytes: int = Field(
        16 * 1024, gt=0, description="Most bytes of a request line and headers held while they are incomplete; "
        "more: 400 and the connection is closed.",
    )

    @field_validator("api_keys", "cors_origins", "unpitched_instruments", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return _split(value)

    def rank_weights(self) -> CompatWeights:
        """The fused ranking's weights (the model's is 1)."""
        return CompatWeights(1.0, self.rank_key_weight, self.rank_chroma_weight, self.rank_tempo_weight,
                             self.rank_rhythm_weight)

    def fusion_weights_for(self, instrument: str) -> FusionWeights:
        """The alignment fusion's weights for a stem of `instrument`: no chroma term for unpitched ones."""
        weights = FusionWeights(self.onset_weight, self.harmony_weight, self.accent_weight)
        return weights.for_instrument(instrument, self.unpitched_instruments)

    def placement_weights_for(self, instrument: str) -> PlacementWeights:
        """The placement's weights for a stem of `instrument`: no chroma evidence for unpitched ones."""
        return DEFAULT_PLACEMENT.for_instrument(instrument, self.unpitched_instruments)

    @field_validator("catalogue_dir", mode="before")
    @classmethod
    def _empty_folder_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("max_k")
    @classmethod
    def _k_consistent(cls, value: int, info: Any) -> int:
        default_k = info.data.get("default_k", 10)
        if value < default_k:
            raise ValueError(f"max_k ({value}) must be at least default_k ({default_k})")
        return value


def load_settings(**overrides: Any) -> ServiceSettings:
    """Reads the environment (and `overrides`, which win); call from entry points, never at import."""
    return ServiceSettings(**overrides)


def settings_table() -> str:
    """The README's settings table (Markdown), one row per field: variable, default, meaning."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in ServiceSettings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = ",".join(default) if isinstance(default, list) else "" if default is None else default
        rows.append(f"| `STEMJEPA_{name.upper()}` | `{shown}` | {field.description} |")
    return "\n".join(rows)
