"""POST /retrieve: a mix and an instrument in, ranked compatible stems with alignment offsets out."""

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, UploadFile
from pydantic import Field

from service.deps import RetrieverDep, SettingsDep
from service.errors import too_large
from service.params import MAX_ID, MAX_LIST, MAX_NAME, NO_NUL
from service.retrieval import RetrieveParams
from service.schemas import ErrorBody, RefineRequest, RefineResponse, RetrieveResponse

router = APIRouter(tags=["retrieval"])

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody, "description": text} for code, text in {
        400: "Undecodable audio, too little audio, or silence.",
        408: "The upload took longer than the body timeout to arrive.",
        413: "Upload or audio duration over the limit.",
        415: "Not an audio file type.",
        422: "Bad parameters or unknown instrument.",
        503: "Model or index not loaded yet.",
    }.items()
}


@router.post("/retrieve", response_model=RetrieveResponse, responses=_ERRORS,
             summary="Find catalogue stems that fit a mix, ranked, with alignment offsets, key, tempo and the "
             "transposition and stretch that make them fit.")
async def retrieve(
    retriever: RetrieverDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The mix: wav, flac, ogg, mp3, m4a/mp4.")],
    instrument: Annotated[str, Form(
        max_length=MAX_NAME, pattern=NO_NUL, description="Instrument to find, from the model's vocabulary (/info).")],
    k: Annotated[int | None, Form(description="Results wanted (default: the server's default_k).")] = None,
    instrument_filter: Annotated[bool, Form(description="Search only stems of `instrument`.")] = True,
    start: Annotated[float | None, Form(ge=0, allow_inf_nan=False, description="Section start (s).")] = None,
    duration: Annotated[float | None, Form(gt=0, allow_inf_nan=False, description="Section length (s).")] = None,
    exclude_song: Annotated[list[Annotated[int, Field(ge=0, le=MAX_ID)]] | None,
                            Form(max_length=MAX_LIST, description="Song ids to leave out.")] = None,
    curve: Annotated[bool, Form(description="Include the similarity-vs-offset curve per result.")] = False,
    rank: Annotated[Literal["fused", "model"] | None, Form(
        description="fused: the model's cosine with key, pitch-class, tempo and rhythm similarity; model: its "
        "cosine alone. Default: the server's (see /info).")] = None,
    bpm_min: Annotated[float | None, Form(ge=0, le=1000, allow_inf_nan=False,
                                          description="Only stems at this BPM or more, as conformed.")] = None,
    bpm_max: Annotated[float | None, Form(ge=0, le=1000, allow_inf_nan=False,
                                          description="Only stems at this BPM or less, as conformed.")] = None,
    key: Annotated[str | None, Form(max_length=16, pattern=NO_NUL, description="Only stems in this key as "
                                    "conformed, e.g. 'A minor', 'F#', 'Bbm' or Camelot '8A'.")] = None,
    key_match: Annotated[Literal["exact", "compatible"], Form(
        description="exact: stems in `key`; compatible: also its Camelot neighbours (relative key, a fifth up "
        "or down).")] = "exact",
    max_transpose: Annotated[int | None, Form(
        ge=0, description="Semitones either way a stem may be transposed to fit (default: the server's).")] = None,
    max_stretch: Annotated[float | None, Form(
        ge=0, allow_inf_nan=False, description="Tempo change a stem may get to fit, e.g. 0.08 for +-8 % (default: "
        "the server's).")] = None,
) -> RetrieveResponse:
    params = RetrieveParams(instrument=instrument, k=settings.default_k if k is None else k,
                            instrument_filter=instrument_filter, start=start, duration=duration,
                            exclude_song_ids=tuple(exclude_song or ()), curve=curve, rank=rank, bpm_min=bpm_min,
                            bpm_max=bpm_max, key=key, key_match=key_match, max_transpose=max_transpose,
                            max_stretch=max_stretch)
    retriever.check_params(params)
    if file.size is not None and file.size > settings.max_upload_bytes:
        raise too_large(f"the upload has {file.size} bytes; the limit is {settings.max_upload_bytes}")
    data = await file.read()
    return await retriever.retrieve(data, file.filename, file.content_type, params)


@router.post("/retrieve/{query_id}/refine", response_model=RefineResponse,
             responses={400: {"model": ErrorBody, "description": "The body is not JSON."},
                        404: {"model": ErrorBody, "description": "The query is not kept (any more) by this server."},
                        422: {"model": ErrorBody, "description": "Bad body, or a stem that was not a result."},
                        503: {"model": ErrorBody, "description": "Model or index not loaded yet."}},
             summary="Refine the offsets of results that /retrieve answered with the model curve's coarse offset.")
async def refine(
    retriever: RetrieverDep,
    query_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$",
                                  description="`query.query_id` of the /retrieve answer.")],
    body: RefineRequest,
) -> RefineResponse:
    return await retriever.refine(query_id, body.stem_ids)
