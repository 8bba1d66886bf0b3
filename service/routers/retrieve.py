"""POST /retrieve: a mix and an instrument in, ranked compatible stems with alignment offsets out."""

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from service.deps import RetrieverDep, SettingsDep
from service.errors import too_large
from service.retrieval import RetrieveParams
from service.schemas import ErrorBody, RetrieveResponse

router = APIRouter(tags=["retrieval"])

_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorBody, "description": text} for code, text in {
        400: "Undecodable audio, too little audio, or silence.",
        413: "Upload or audio duration over the limit.",
        415: "Not an audio file type.",
        422: "Bad parameters or unknown instrument.",
        503: "Model or index not loaded yet.",
    }.items()
}


@router.post("/retrieve", response_model=RetrieveResponse, responses=_ERRORS,
             summary="Find catalogue stems that fit a mix, ranked, with alignment offsets.")
async def retrieve(
    retriever: RetrieverDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The mix: wav, flac, ogg, mp3, m4a/mp4.")],
    instrument: Annotated[str, Form(description="Instrument to find, from the model's vocabulary (see /info).")],
    k: Annotated[int | None, Form(description="Results wanted (default: the server's default_k).")] = None,
    instrument_filter: Annotated[bool, Form(description="Search only stems of `instrument`.")] = True,
    start: Annotated[float | None, Form(ge=0, allow_inf_nan=False, description="Section start (s).")] = None,
    duration: Annotated[float | None, Form(gt=0, allow_inf_nan=False, description="Section length (s).")] = None,
    exclude_song: Annotated[list[int] | None, Form(description="Song ids to leave out.")] = None,
    curve: Annotated[bool, Form(description="Include the similarity-vs-offset curve per result.")] = False,
) -> RetrieveResponse:
    params = RetrieveParams(instrument=instrument, k=settings.default_k if k is None else k,
                            instrument_filter=instrument_filter, start=start, duration=duration,
                            exclude_song_ids=tuple(exclude_song or ()), curve=curve)
    retriever.check_params(params)
    if file.size is not None and file.size > settings.max_upload_bytes:
        raise too_large(f"the upload has {file.size} bytes; the limit is {settings.max_upload_bytes}")
    data = await file.read()
    return await retriever.retrieve(data, file.filename, file.content_type, params)
