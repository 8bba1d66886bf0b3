"""Service settings: every limit and location is a documented field, read from `STEMJEPA_*` environment variables."""

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from service.alignment import FusionWeights


def _split(value: Any) -> Any:
    """Accepts 'a,b' as well as a list, so list settings read naturally from one environment variable."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# Fusion weights of the alignment, relative to the model curve's 1, chosen on MUSDB train songs by
# scripts/alignment_sweep.py; see onset_weight and MODEL_CARD.md.
ONSET_WEIGHT = 4.0
HARMONY_WEIGHT = 5.6
ACCENT_WEIGHT = 4.0


class ServiceSettings(BaseSettings):
    """Configuration of the retrieval API. Environment variable = `STEMJEPA_` + upper-case field name."""

    model_config = SettingsConfigDict(env_prefix="STEMJEPA_", extra="ignore", frozen=True)

    # ---- where things are -------------------------------------------------------------------------------------
    # The same variables as the indexer's (STEMJEPA_INDEX_DIR, STEMJEPA_DB_URL), so both agree by default.
    index_dir: Path = Field(
        Path("stemjepa-data/index"), description="Folder with the FAISS index, frame store and manifest."
    )
    db_url: str | None = Field(
        None, description="SQLAlchemy URL of the metadata; empty = catalogue.sqlite beside index_dir."
    )
    checkpoint: Path | None = Field(None, description="Model checkpoint; empty = the bundled default.")
    device: str = Field("auto", description="Inference device: auto, cpu, cuda, cuda:N.")
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
    min_audio_seconds: float = Field(
        1.0, gt=0, description="Shortest accepted query audio or section (s); shorter: 400."
    )
    silence_dbfs: float = Field(-60.0, description="Query audio quieter than this RMS level (dBFS) is silence: 400.")
    default_k: int = Field(10, gt=0, description="Results returned when the request names no k.")
    max_k: int = Field(100, gt=0, description="Largest k a request may ask for; larger: 422.")

    # ---- inference --------------------------------------------------------------------------------------------
    batch_max_size: int = Field(8, gt=0, description="Most queries embedded in one forward pass (micro-batching).")
    batch_wait_ms: float = Field(4.0, ge=0, description="How long the batcher waits for company after a query arrives.")
    embed_batch_size: int = Field(16, gt=0, description="Windows per forward pass inside the embedder.")
    min_overlap_seconds: float = Field(
        2.0, gt=0, description="Alignment lags with less stem/mix overlap are not scored."
    )
    refine_top: int = Field(
        10, ge=0,
        description="Hits whose offsets are refined with onset, accent and chroma correlation at 10 ms (0: none).",
    )
    onset_weight: float = Field(
        ONSET_WEIGHT, ge=0, description="Weight of the band onset correlation (attacks to 10 ms) fused with the "
        "model's similarity curve (weight 1) over all lags for the refined hits; with the harmony and accent "
        "weights also 0: model curve only, then a local onset refinement. Chosen on MUSDB train songs "
        "(scripts/alignment_sweep.py), keeping the beat phase of long audio (scripts/alignment_long.py).",
    )
    harmony_weight: float = Field(
        HARMONY_WEIGHT, ge=0, description="Weight of the chroma correlation in the same fusion: it tells a bar "
        "from its neighbour where the rhythm repeats. Chosen with onset_weight.",
    )
    accent_weight: float = Field(
        ACCENT_WEIGHT, ge=0, description="Weight of the accent correlation in the same fusion (band onsets blurred "
        "over 0.1 s): on which beat the parts' notes cluster. Chosen with onset_weight.",
    )
    offset_alternatives: int = Field(
        2, ge=0, le=10, description="Further offsets returned per refined hit: the next-best peaks of the fused "
        "alignment curve, at least 0.5 s apart (loop-based music often fits a bar or a phrase away too).",
    )
    unpitched_instruments: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["drums"], description="Instruments whose stems carry no pitch classes "
        "(comma-separated): their alignment leaves the chroma term out (on MUSDB train songs it cost drums 4 points).",
    )
    signature_cache_stems: int = Field(
        256, gt=0, description="Catalogue stems whose onset and chroma features stay in memory (LRU; ~290 KB per "
        "minute of stem).",
    )
    refine_window_seconds: float = Field(
        0.16, gt=0, description="Half-width of the onset-refinement search (s): one frame."
    )
    load_in_background: bool = Field(
        True, description="Load model and index after start-up; /readyz is 503 until done."
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

    @field_validator("api_keys", "cors_origins", "unpitched_instruments", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return _split(value)

    def fusion_weights_for(self, instrument: str) -> FusionWeights:
        """The alignment fusion's weights for a stem of `instrument`: no chroma term for unpitched ones."""
        harmony = 0.0 if instrument in self.unpitched_instruments else self.harmony_weight
        return FusionWeights(self.onset_weight, harmony, self.accent_weight)

    @property
    def database_url(self) -> str:
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.index_dir.parent / 'catalogue.sqlite').resolve()}"

    @field_validator("checkpoint", "catalogue_dir", "db_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
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
