"""Catalogue stems: listing with filters and pagination, one stem's metadata, and its audio (range requests)."""

from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Path, Query
from fastapi.responses import FileResponse, Response

from analysis.key import KeyParseError, parse_key
from service.conform import Conforming
from service.deps import CatalogueDep, RuntimeDep
from service.errors import invalid, not_found
from service.params import MAX_ID, MAX_NAME, MAX_TEXT, NO_NUL
from service.ranking import matching_keys
from service.schemas import ErrorBody, StemOut, StemPage

router = APIRouter(prefix="/stems", tags=["stems"])

StemId = Annotated[int, Path(ge=0, le=MAX_ID, description="Stem id (as in results).")]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorBody}, 422: {"model": ErrorBody},
                                               503: {"model": ErrorBody}}


def stem_out(record: Any) -> StemOut:
    return StemOut(id=int(record.id), song_id=int(record.song_id), song_key=getattr(record, "song_key", None),
                   title=record.title, artist=record.artist, instrument=record.instrument, name=record.name,
                   duration_seconds=record.duration_seconds, sample_rate=record.sample_rate,
                   audio_url=f"/stems/{int(record.id)}/audio",
                   bpm=None if record.bpm is None else round(float(record.bpm), 2), key=record.key,
                   camelot=record.camelot, beats_per_bar=record.beats_per_bar)


@router.get("", response_model=StemPage, responses=_NOT_FOUND, summary="List stems, filtered and paginated.")
def list_stems(
    catalogue: CatalogueDep,
    instrument: Annotated[str | None, Query(max_length=MAX_NAME, pattern=NO_NUL,
                                            description="Only this instrument.")] = None,
    song_id: Annotated[int | None, Query(ge=0, le=MAX_ID, description="Only stems of this song.")] = None,
    q: Annotated[str | None, Query(max_length=MAX_TEXT, pattern=NO_NUL,
                                           description="Text in title, artist or stem name.")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    bpm_min: Annotated[float | None, Query(ge=0, le=1000, allow_inf_nan=False, description="Lowest BPM.")] = None,
    bpm_max: Annotated[float | None, Query(ge=0, le=1000, allow_inf_nan=False, description="Highest BPM.")] = None,
    key: Annotated[str | None, Query(max_length=16, pattern=NO_NUL, description="Key, e.g. 'A minor', 'F#', "
                                     "'Bbm' or Camelot '8A'.")] = None,
    key_match: Annotated[Literal["exact", "compatible"], Query(
        description="exact: stems in `key`; compatible: also its Camelot neighbours (relative key, a fifth "
        "up or down).")] = "exact",
    sort: Annotated[Literal["id", "bpm", "-bpm", "key"], Query(
        description="Order: id, bpm (ascending), -bpm (descending) or key (Camelot order); unanalysed stems "
        "last.")] = "id",
) -> StemPage:
    if bpm_min is not None and bpm_max is not None and bpm_min > bpm_max:
        raise invalid(f"bpm_min ({bpm_min}) is above bpm_max ({bpm_max})")
    keys = None
    if key:
        try:
            keys = matching_keys(parse_key(key), key_match)
        except KeyParseError as exc:
            raise invalid(str(exc), {"key": key}) from exc
    records, total = catalogue.list_stems(instrument=instrument, song_id=song_id, q=q, offset=offset, limit=limit,
                                          bpm_min=bpm_min, bpm_max=bpm_max, keys=keys, sort=sort)
    return StemPage(items=[stem_out(r) for r in records], total=total, offset=offset, limit=limit)


@router.get("/{stem_id}", response_model=StemOut, responses=_NOT_FOUND, summary="One stem's metadata.")
def get_stem(catalogue: CatalogueDep, stem_id: StemId) -> StemOut:
    record = catalogue.stem(stem_id)
    if record is None:
        raise not_found(f"no stem {stem_id}")
    return stem_out(record)


Transpose = Annotated[int, Query(ge=-12, le=12, description="Semitones to shift the stem's pitch (up > 0).")]
Stretch = Annotated[float, Query(ge=0.5, le=2.0, allow_inf_nan=False,
                                 description="Tempo factor for the stem (faster > 1, pitch unchanged).")]
_AUDIO: dict[int | str, dict[str, Any]] = {200: {"content": {"audio/*": {}}}, 206: {"description": "Partial content."},
          503: {"model": ErrorBody, "description": "Conforming needs Rubber Band, which is not installed."},
          **_NOT_FOUND}


async def _record(catalogue: Any, stem_id: int) -> Any:
    record = await anyio.to_thread.run_sync(catalogue.stem, stem_id)
    if record is None:
        raise not_found(f"no stem {stem_id}")
    return record


@router.get("/{stem_id}/audio", response_class=FileResponse, responses=_AUDIO,
            summary="The stem's audio, as it is or conformed (transposed, time-stretched); supports HTTP Range.")
async def stem_audio(catalogue: CatalogueDep, runtime: RuntimeDep, stem_id: StemId, transpose: Transpose = 0,
                     stretch: Stretch = 1.0) -> FileResponse:
    record = await _record(catalogue, stem_id)
    # Under the one bound on decodes at once (runtime.decodes): a conforming decodes the stem first.
    path, media_type = await anyio.to_thread.run_sync(runtime.conformer.file_for, record,
                                                      Conforming(transpose, stretch), limiter=runtime.decodes)
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/{stem_id}/export", responses=_AUDIO, response_class=Response,
            summary="The stem conformed and placed at the mix's time zero, as a WAV or FLAC file for a DAW.")
async def export_stem(
    catalogue: CatalogueDep,
    runtime: RuntimeDep,
    stem_id: StemId,
    transpose: Transpose = 0,
    stretch: Stretch = 1.0,
    offset: Annotated[float, Query(ge=-3600, le=3600, allow_inf_nan=False, description=(
        "Where the (conformed) stem starts in the mix (s), as /retrieve's offset_seconds: positive adds that "
        "much leading silence, negative cuts the stem's start."))] = 0.0,
    duration: Annotated[float | None, Query(gt=0, le=3600, allow_inf_nan=False, description=(
        "Length of the file (s), e.g. the mix's: the stem is cut or padded with silence to it."))] = None,
    format: Annotated[Literal["wav", "flac"], Query(description="wav (24-bit) or flac (24-bit).")] = "wav",
) -> Response:
    record = await _record(catalogue, stem_id)
    data = await anyio.to_thread.run_sync(runtime.conformer.export, record, Conforming(transpose, stretch), offset,
                                          duration, format, limiter=runtime.decodes)
    name = f"stem-{int(record.id)}-{record.instrument}-{Conforming(transpose, stretch).label}.{format}"
    return Response(data, media_type="audio/wav" if format == "wav" else "audio/flac",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
