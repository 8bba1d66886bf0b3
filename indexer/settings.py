"""Settings: `StorageSettings`, the locations and model that the indexer and the service share, and the
indexer's own flags (`IndexerSettings`); every field is also an environment variable (prefix STEMJEPA_)."""

from pathlib import Path
from typing import Any, Self

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("stemjepa-data")
# auto picks CUDA when present; cuda:N names one GPU of several
DEVICE_PATTERN = r"^(auto|cpu|cuda(:\d+)?)$"


class StorageSettings(BaseSettings):
    """Where the catalogue lives and which model embeds it: the same variables (STEMJEPA_INDEX_DIR,
    STEMJEPA_DB_URL, STEMJEPA_CHECKPOINT, STEMJEPA_DEVICE, STEMJEPA_THREADS) for the indexer and the service,
    so both agree by default. Built by each side's `load_settings`, never at import."""

    model_config = SettingsConfigDict(env_prefix="STEMJEPA_", extra="ignore")

    index_dir: Path = Field(
        DEFAULT_DATA_DIR / "index", description="Folder with the FAISS index, frame store and manifest."
    )
    db_url: str | None = Field(
        None, description="SQLAlchemy URL of the metadata; empty = catalogue.sqlite beside index_dir."
    )
    checkpoint: Path | None = Field(None, description="Model checkpoint; empty = the bundled default.")
    device: str = Field("auto", pattern=DEVICE_PATTERN, description="Inference device: auto, cpu, cuda, cuda:N.")
    threads: int = Field(
        1, ge=0, description="Intra-op threads of torch and BLAS per process (model.threads); 0 = the libraries' "
        "default of one per core, which spin-waits on shared cores. Decode workers and requests give the parallelism.",
    )

    @field_validator("checkpoint", "db_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @property
    def database_url(self) -> str:
        """The configured URL, or a SQLite file `catalogue.sqlite` in the index dir's parent."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.index_dir.parent / 'catalogue.sqlite').resolve()}"

    def storage(self) -> dict[str, Any]:
        """The shared fields, to build the other side's settings over the same catalogue."""
        return {name: getattr(self, name) for name in StorageSettings.model_fields}


class IndexerSettings(StorageSettings):
    """Where the catalogue goes and how it is embedded. Build with `load_settings`, never at import."""

    batch_size: int = Field(16, ge=1, description="stems per embedding call (windows per forward pass: the "
                            "embedder's default for the device)")
    workers: int = Field(2, ge=0, description="decoding processes; 0 decodes in the main process")
    commit_stems: int = Field(64, ge=1, description="stems per durable commit (vectors + frames + SQL)")
    commit_seconds: float = Field(30.0, gt=0, description="longest wait between durable commits, s")
    ivf_threshold: int = Field(50_000, ge=1, description="an instrument's index becomes IVF above this many stems")
    ivf_factory: str = Field("IVF{nlist},Flat", description="faiss.index_factory string for large indexes")
    ivf_nprobe: int = Field(32, ge=1, description="IVF lists probed per search")
    ray_actors: int = Field(1, ge=1, description="embedding actors of the ray engine (one GPU each where present)")
    store_format: int = Field(3, ge=2, le=3, description="format of the frame and analysis packs a publish writes: "
                              "3 (sign-bit frames, coded onsets and chroma: ~1 MB per hour of audio) or 2 (8-bit "
                              "rows: ~6.7 MB/h; for readers of releases before format 3, which refuse format 3)")

    @field_validator("ivf_factory")
    @classmethod
    def _ivf_factory(cls, v: str) -> str:
        if not v.startswith("IVF"):
            raise ValueError("ivf_factory must be an IVF index_factory string, e.g. 'IVF{nlist},Flat'")
        return v

    @classmethod
    def over(cls, storage: StorageSettings, **overrides: object) -> Self:
        """The indexer's settings (environment, then `overrides`) over `storage`'s index, database, checkpoint
        and device: how another component (the service's job runner, the demo) indexes into its catalogue."""
        return cls(**{**storage.storage(), **{k: v for k, v in overrides.items() if v is not None}})


def load_settings(**overrides: object) -> IndexerSettings:
    """Settings from the environment with explicit `overrides` (None values are ignored) on top."""
    return IndexerSettings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
