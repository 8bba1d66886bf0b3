"""Catalogue songs: a paginated listing, so a client can pick a song and work with its stems."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from service.deps import CatalogueDep
from service.params import MAX_TEXT, NO_NUL
from service.schemas import ErrorBody, SongOut, SongPage

router = APIRouter(prefix="/songs", tags=["stems"])

_ERRORS: dict[int | str, dict[str, Any]] = {422: {"model": ErrorBody}, 503: {"model": ErrorBody}}


@router.get("", response_model=SongPage, responses=_ERRORS, summary="List songs with indexed stems.")
def list_songs(
    catalogue: CatalogueDep,
    q: Annotated[str | None, Query(max_length=MAX_TEXT, pattern=NO_NUL,
                                           description="Text in title, artist or song key.")] = None,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> SongPage:
    records, total = catalogue.songs(q=q, offset=offset, limit=limit)
    items = [SongOut(id=r.id, key=r.key, title=r.title, artist=r.artist, instruments=list(r.instruments),
                     stem_count=r.stem_count) for r in records]
    return SongPage(items=items, total=total, offset=offset, limit=limit)
