"""Frozen configuration dataclasses for the front end, the networks and training, with YAML loading.

Unknown keys are rejected (a typo must not silently fall back to a default); the resolved config is
saved with each run and inside each checkpoint, so inference rebuilds the model without training code.
"""

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from model.errors import ConfigError
from model.instruments import DEFAULT_INSTRUMENTS

# Run configs shipped with the package (found without the repository, e.g. from an installed wheel)
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


@dataclass(frozen=True)
class AudioConfig:
    """Log-mel front end (paper 3.3): 16 kHz, 80 mel bins, 25 ms window, 10 ms hop, 8 s chunks."""

    sample_rate: int = 16_000
    n_mels: int = 80
    win_length: int = 400  # 25 ms at 16 kHz
    hop_length: int = 160  # 10 ms at 16 kHz
    n_fft: int = 400
    f_min: float = 0.0
    f_max: float = 8_000.0
    chunk_frames: int = 800  # 8 s of 10 ms frames: one encoder window
    log_offset: float = 1e-6  # log(mel + offset): keeps digital silence finite

    @property
    def chunk_seconds(self) -> float:
        return self.chunk_frames * self.hop_length / self.sample_rate

    @property
    def chunk_samples(self) -> int:
        return self.chunk_frames * self.hop_length


@dataclass(frozen=True)
class EncoderConfig:
    """ViT over 16x16 log-mel patches with fixed 2-D sin-cos positions and no CLS token."""

    patch_size: int = 16
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_ratio: float = 4.0

    def grid(self, audio: AudioConfig) -> tuple[int, int]:
        """(frequency rows, time columns) of one full window: 5 x 50 for the paper's front end."""
        return audio.n_mels // self.patch_size, audio.chunk_frames // self.patch_size


@dataclass(frozen=True)
class PredictorConfig:
    """Predictor: the paper's per-patch MLP, or the M2D-style transformer of the ablation."""

    kind: Literal["mlp", "transformer"] = "mlp"
    conditioned: bool = True
    depth: int = 6  # linear layers of the MLP, or blocks of the transformer
    hidden: int = 1024  # MLP hidden width, or transformer width
    heads: int = 8  # transformer only
    instrument_dim: int | None = None  # None: the encoder's width (the paper's concatenated embedding)


@dataclass(frozen=True)
class FrameConfig:
    """Frame sequences kept for alignment: one vector per 160 ms, projected to a compact width."""

    dim: int = 128
    projection_seed: int = 20240917


@dataclass(frozen=True)
class ModelConfig:
    name: str = "base"
    instruments: tuple[str, ...] = DEFAULT_INSTRUMENTS
    audio: AudioConfig = field(default_factory=AudioConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    predictor: PredictorConfig = field(default_factory=PredictorConfig)
    frames: FrameConfig = field(default_factory=FrameConfig)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, EMA and data sampling. Paper defaults where it gives them (3.1-3.3)."""

    steps: int = 300_000
    batch_size: int = 256
    lr: float = 3e-4
    min_lr: float = 1e-6
    weight_decay: float = 0.05
    warmup_steps: int = 20_000
    grad_clip: float = 1.0
    ema_start: float = 0.996
    ema_end: float = 1.0
    silence_dbfs: float = -50.0  # a stem chunk quieter than this RMS level counts as silent
    max_resample: int = 16  # chunk redraws before a song is skipped for this sample
    num_workers: int = 2
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 500
    validate_every: int = 0  # 0: only at the end (when a validation folder is given)
    compile: bool = True  # torch.compile on CUDA; never on CPU
    gain_jitter_db: float = 6.0  # random per-stem gain when mixing the context (data augmentation)
    # Weight of the in-batch InfoNCE term on pooled vectors (model.jepa.pooled_infonce); 0 = the paper's pure
    # JEPA loss. A departure for small compute budgets: see MODEL_CARD.md, "Recipe".
    contrastive_weight: float = 0.0
    contrastive_temperature: float = 0.1
    # Which encoder embeds the InfoNCE keys: the EMA target encoder (MoCo-like; no gradient) or the online
    # context encoder itself (CLIP-like; gradient through both sides, so stems are pushed apart directly).
    contrastive_keys: Literal["target", "online"] = "target"


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


T = TypeVar("T")


def _coerce(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return from_dict(tp, value, where)
    if origin is tuple:
        return tuple(value)
    if origin is Literal:
        if value not in typing.get_args(tp):
            raise ConfigError(f"{where}: {value!r} is not one of {typing.get_args(tp)}")
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return None if value is None else _coerce(args[0], value, where)
    if tp is float and isinstance(value, int | float):
        return float(value)
    if tp is float and isinstance(value, str):
        # YAML 1.1 (PyYAML) reads exponents without a dot, such as 5e-4, as strings
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected float, got {value!r}") from None
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "config") -> T:
    """Builds dataclass `cls` from a mapping, recursing into nested configs; unknown keys raise ConfigError."""
    assert dataclasses.is_dataclass(cls)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; allowed: {sorted(names)}")
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-data form (lists for tuples) for YAML and checkpoints."""
    out = dataclasses.asdict(cfg)

    def fix(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: fix(v) for k, v in x.items()}
        if isinstance(x, tuple | list):
            return [fix(v) for v in x]
        return x

    result: dict[str, Any] = fix(out)
    return result


def merge_config(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge_config(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), dict) else v
    return out


def named_configs() -> list[str]:
    """Names of the run configs shipped as package data (model/configs/NAME.yaml): the model sizes
    `tiny`, `compact`, `small`, `base` and the shipped recipe's second phase `compact-nce`."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def config_path(name_or_path: str | Path) -> Path:
    """A run YAML: an existing file, else a named config of the package (`tiny`, `small`, ...).

    Raises:
        ConfigError: neither a file nor a named config.
    """
    path = Path(name_or_path)
    if path.is_file():
        return path
    named = CONFIG_DIR / f"{name_or_path}.yaml"
    if path.suffix == "" and path.name == str(name_or_path) and named.is_file():
        return named
    raise ConfigError(f"config file not found: {name_or_path} (named configs: {', '.join(named_configs())})")


def load_run_config(path: str | Path | None, overrides: Mapping[str, Any] | None = None) -> RunConfig:
    """Reads a run YAML, given as a file or by name (`config_path`): keys `model`, `train`, and optionally
    `base:` naming a file (beside it) to extend."""
    data: dict[str, Any] = {}
    if path is not None:
        path = config_path(path)
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at top level")
        base = loaded.pop("base", None)
        if base is not None:
            data = to_dict(load_run_config(path.parent / base))
        data = merge_config(data, loaded)
    if overrides:
        data = merge_config(data, overrides)
    return from_dict(RunConfig, data, "run")


def parse_override(text: str) -> dict[str, Any]:
    """'train.lr=1e-3' -> {'train': {'lr': 0.001}} (value parsed as YAML)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} is not of the form key.path=value")
    key, raw = text.split("=", 1)
    value: Any = yaml.safe_load(raw)
    for part in reversed(key.strip().split(".")):
        value = {part: value}
    result: dict[str, Any] = value
    return result
