"""Indexer settings: flags of `stemjepa index`, each also an environment variable (prefix STEMJEPA_)."""

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATA_DIR = Path("stemjepa-data")


class IndexerSettings(BaseSettings):
    """Where the catalogue goes and how it is embedded. Build with `load_settings`, never at import."""

    model_config = SettingsConfigDict(env_prefix="STEMJEPA_", extra="ignore")

    index_dir: Path = Field(DEFAULT_DATA_DIR / "index", description="FAISS indexes, frame packs, manifest")
    db_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file beside the index dir")
    checkpoint: Path | None = Field(None, description="model checkpoint; default: the bundled one")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = Field(16, ge=1, description="stems per embedding call (and windows per forward)")
    workers: int = Field(2, ge=0, description="decoding processes; 0 decodes in the main process")
    commit_stems: int = Field(64, ge=1, description="stems per durable commit (vectors + frames + SQL)")
    commit_seconds: float = Field(30.0, gt=0, description="longest wait between durable commits, s")
    ivf_threshold: int = Field(50_000, ge=1, description="an instrument's index becomes IVF above this many stems")
    ivf_factory: str = Field("IVF{nlist},Flat", description="faiss.index_factory string for large indexes")
    ivf_nprobe: int = Field(32, ge=1, description="IVF lists probed per search")
    ray_actors: int = Field(1, ge=1, description="embedding actors of the ray engine (one GPU each where present)")

    @field_validator("ivf_factory")
    @classmethod
    def _ivf_factory(cls, v: str) -> str:
        if not v.startswith("IVF"):
            raise ValueError("ivf_factory must be an IVF index_factory string, e.g. 'IVF{nlist},Flat'")
        return v

    @property
    def database_url(self) -> str:
        """The configured URL, or a SQLite file `catalogue.sqlite` in the index dir's parent."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{(self.index_dir.parent / 'catalogue.sqlite').resolve()}"


def load_settings(**overrides: object) -> IndexerSettings:
    """Settings from the environment with explicit `overrides` (None values are ignored) on top."""
    return IndexerSettings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
