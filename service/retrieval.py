"""Retrieval: an uploaded mix and an instrument in, ranked catalogue stems with alignment offsets out.

Stages (each timed): decode and validate the upload; predict the query embedding (micro-batched) while the
query is analysed (tempo, beats, key, signature); search the catalogue for the model's nearest candidates;
rank them by the fused score with the stored analyses (service.ranking), conformed and filtered; align each
result by frame cross-correlation fused with band-onset, accent and chroma correlation at 10 ms (against the
stored signatures: no catalogue audio is decoded); then assemble the answer.

A request reads one published build from search to alignment (`Catalogue.current()`), so an index job that
publishes meanwhile never mixes two builds into one answer, and the answer names its build. A hit whose
metadata row is gone (deleted by an index job after its build was published) is not served: the next
candidate takes its place and the answer counts it in `catalogue.unavailable`, never silently returning
fewer than k results.
"""

import asyncio
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np

from analysis import alignment, placement
from analysis.beats import stored_grid
from analysis.compatibility import Conform, musical_shortlist
from analysis.key import camelot, key_name, parse_key
from analysis.music import Analysis, analyse
from analysis.signature import time_scale
from indexer.catalog import Build, Catalogue, Hit, StemRecord
from model.audio import DecodeLimits
from model.embed import Embedder, Embedding
from service.batching import MicroBatcher
from service.errors import invalid, not_found
from service.intake import IntakeLimits, QueryAudio, Upload, read_query
from service.metrics import Metrics
from service.querycache import KeptQuery, QueryCache
from service.ranking import KEY_MATCHES, Ranked, Ranking, rank
from service.schemas import (
    CatalogueInfo,
    CurveOut,
    OffsetOut,
    QueryInfo,
    RefineResponse,
    RetrieveResponse,
    RetrieveResult,
    ScoreParts,
    Timings,
)
from service.settings import ServiceSettings

log = logging.getLogger(__name__)

RANKS = ("fused", "model")


def decode_limits(s: ServiceSettings) -> DecodeLimits:
    """What decoding one upload may take, from the settings."""
    return DecodeLimits(s.max_sample_rate, s.max_channels, s.max_audio_seconds, s.max_decoded_samples)


@dataclass(frozen=True)
class RetrieveParams:
    instrument: str
    k: int
    instrument_filter: bool = True
    start: float | None = None
    duration: float | None = None
    exclude_song_ids: tuple[int, ...] = ()
    curve: bool = False
    rank: str | None = None  # None: the server's default
    bpm_min: float | None = None
    bpm_max: float | None = None
    key: str | None = None
    key_match: str = "exact"
    max_transpose: int | None = None
    max_stretch: float | None = None


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


def _round(x: float | None, digits: int) -> float | None:
    return None if x is None else round(float(x), digits)


class Retriever:
    """Runs the retrieval stages against one embedder and one catalogue."""

    def __init__(self, embedder: Embedder, catalogue: Catalogue, batcher: MicroBatcher,
                 settings: ServiceSettings, metrics: Metrics, decodes: anyio.CapacityLimiter | None = None,
                 compute: Executor | None = None) -> None:
        self.embedder = embedder
        self.compute = compute  # where the query's analysis runs: the embedding's pool on a CPU (service.runtime)
        self.decodes = decodes or anyio.CapacityLimiter(settings.max_concurrent_decodes)  # shared with stem audio
        self.catalogue = catalogue
        self.batcher = batcher
        self.settings = settings
        self.metrics = metrics
        # A lone request's hits align side by side in this pool; with other requests in flight the cores are
        # busy anyway, and each request aligns its own hits in its thread (on the loaded 2-core machine, 16
        # clients, 32 requests: 1.18 req/s that way, 0.75 through a shared pool of two; scripts/scale_ab.py).
        self._aligners = (ThreadPoolExecutor(settings.align_threads, thread_name_prefix="align")
                          if settings.align_threads > 1 else None)
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()
        self.queries = QueryCache(settings.query_cache_entries, int(settings.query_cache_mib * 2**20),
                                  settings.query_cache_seconds)

    def close(self) -> None:
        """Stops the alignment threads (after the alignments they run)."""
        if self._aligners is not None:
            self._aligners.shutdown(wait=True)

    def ranking(self, params: RetrieveParams) -> Ranking:
        """The request's ranking, with the server's defaults filled in; 422 for values out of range."""
        s = self.settings
        self.embedder.vocabulary.index(params.instrument)  # UnknownInstrumentError -> 422
        if not 1 <= params.k <= s.max_k:
            raise invalid(f"k must lie in 1..{s.max_k}, got {params.k}", {"max_k": s.max_k})
        mode = params.rank or s.rank
        if mode not in RANKS:
            raise invalid(f"rank must be one of {', '.join(RANKS)}, got {mode!r}", {"rank": list(RANKS)})
        transpose = s.max_transpose if params.max_transpose is None else params.max_transpose
        if not 0 <= transpose <= s.max_transpose_limit:
            raise invalid(f"max_transpose must lie in 0..{s.max_transpose_limit} semitones, got {transpose}")
        stretch = s.max_stretch if params.max_stretch is None else params.max_stretch
        if not 0.0 <= stretch <= s.max_stretch_limit:
            raise invalid(f"max_stretch must lie in 0..{s.max_stretch_limit}, got {stretch}")
        if params.bpm_min is not None and params.bpm_max is not None and params.bpm_min > params.bpm_max:
            raise invalid(f"bpm_min ({params.bpm_min}) is above bpm_max ({params.bpm_max})")
        if params.key_match not in KEY_MATCHES:
            raise invalid(f"key_match must be one of {', '.join(KEY_MATCHES)}, got {params.key_match!r}")
        key = None
        if params.key:
            try:
                key = parse_key(params.key)
            except ValueError as exc:
                raise invalid(str(exc), {"key": params.key}) from exc
        pitched = params.instrument not in s.unpitched_instruments
        return Ranking(mode, s.rank_weights().for_instrument(params.instrument, s.unpitched_instruments),
                       Conform(transpose, stretch, pitched, s.rank_tempo_tolerance), params.bpm_min, params.bpm_max,
                       key, params.key_match, s.rank_hub_discount)

    def check_params(self, params: RetrieveParams) -> None:
        """Rejects bad parameters before any audio is decoded (422)."""
        self.ranking(params)

    async def retrieve(self, data: bytes, filename: str | None, content_type: str | None,
                       params: RetrieveParams) -> RetrieveResponse:
        ranking = self.ranking(params)
        with self._flight():
            return await self._retrieve(data, filename, content_type, params, ranking)

    async def refine(self, query_id: str, stem_ids: list[int]) -> RefineResponse:
        """The results `stem_ids` of the kept query `query_id`, their offsets refined as /retrieve refines its
        first `refine_top` (404: the query is not kept, or no longer; 422: a stem that was not one of its
        results). Reads the current build: a stem removed since the answer is listed in `unavailable`."""
        kept = self.queries.get(query_id)
        if kept is None:
            raise not_found(f"query {query_id!r} is not kept here (any more): send the mix to /retrieve again")
        unknown = [i for i in stem_ids if i not in kept.results]
        if unknown:
            raise invalid(f"stems {unknown} were not results of query {query_id!r}", {"unknown": unknown})
        with self._flight():
            return await anyio.to_thread.run_sync(lambda: self._refine_kept(query_id, kept, stem_ids))

    @contextmanager
    def _flight(self) -> Iterator[None]:
        """Counts a request in flight while it runs (alignment goes side by side only for a lone one)."""
        with self._in_flight_lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1

    async def _retrieve(self, data: bytes, filename: str | None, content_type: str | None, params: RetrieveParams,
                        ranking: Ranking) -> RetrieveResponse:
        t0 = time.perf_counter()
        s = self.settings
        limits = IntakeLimits(self.embedder.sample_rate, s.max_upload_bytes, decode_limits(s), s.min_audio_seconds,
                              s.silence_dbfs)
        query = await anyio.to_thread.run_sync(
            lambda: read_query(Upload(data, filename, content_type), limits, params.start, params.duration),
            limiter=self.decodes,
        )
        t1 = time.perf_counter()
        # The embedding (batcher thread) and the analysis of the same decoded wave overlap. The analysis is
        # queued first, so in a shared compute pool it takes one worker while the passes take the other.
        if self.compute is not None:
            analysing = asyncio.wrap_future(self.compute.submit(analyse, query.wave, query.sample_rate))
        pending = asyncio.wrap_future(self.batcher.submit(query.wave, params.instrument))
        if self.compute is not None:
            analysis = await analysing
        else:
            analysis = await anyio.to_thread.run_sync(lambda: analyse(query.wave, query.sample_rate))
        t_analysed = time.perf_counter()
        embedding: Embedding = await pending
        t2 = time.perf_counter()
        response, t_search, t_align = await anyio.to_thread.run_sync(
            lambda: self._search_and_align(query, embedding, analysis, params, ranking))
        t3 = time.perf_counter()
        timings = Timings(decode_ms=_ms(t1 - t0), embed_ms=_ms(t2 - t1), analyse_ms=_ms(t_analysed - t1),
                          search_ms=_ms(t_search), align_ms=_ms(t_align), total_ms=_ms(t3 - t0))
        for stage, seconds in (("decode", t1 - t0), ("embed", t2 - t1), ("analyse", t_analysed - t1),
                               ("search", t_search), ("align", t_align)):
            self.metrics.stage.labels(stage).observe(seconds)
        return response.model_copy(update={"timings": timings})

    def _search_and_align(self, query: QueryAudio, emb: Embedding, analysis: Analysis, params: RetrieveParams,
                          ranking: Ranking) -> tuple[RetrieveResponse, float, float]:
        t0 = time.perf_counter()
        build = self.catalogue.current()
        scope = params.instrument if params.instrument_filter else None
        searched = build.size(scope)
        exclude = self.catalogue.stem_ids_of_songs(params.exclude_song_ids) if params.exclude_song_ids else None
        pool = max(params.k, min(self.settings.rank_pool, searched))
        hits = list(build.search(emb.vector, pool, scope, exclude))
        if ranking.rank == "fused" and searched > len(hits):
            hits += self._musical_candidates(build, emb, analysis, ranking, scope, exclude,
                                             {h.stem_id for h in hits})
        rows, analysed = build.analysis_rows([h.stem_id for h in hits])
        ranked = rank(analysis.vector(), np.array([h.score for h in hits]), rows, analysed, ranking,
                      self._hubs(build, hits, params) if ranking.hub_discount else None)
        t1 = time.perf_counter()
        results: list[RetrieveResult] = []
        unavailable, at = 0, 0
        stretches: dict[int, float] = {}
        while len(results) < params.k and at < len(ranked):
            window = ranked[at : at + params.k - len(results)]
            at += len(window)
            records = {r.id: r for r in self.catalogue.stems([hits[r.index].stem_id for r in window])}
            todo: list[tuple[Ranked, StemRecord]] = []
            for item in window:
                record = records.get(hits[item.index].stem_id)
                if record is None:
                    unavailable += 1
                    continue
                todo.append((item, record))
                stretches[record.id] = item.stretch
            first = len(results) + 1

            def result(n: int, job: tuple[Ranked, StemRecord], first: int = first) -> RetrieveResult:
                return self._result(build, first + n, job[0], job[1], emb, query, analysis, max(searched, 1),
                                    params)

            if self._aligners is None or len(todo) < 2 or self._in_flight > 1:
                results += [result(n, job) for n, job in enumerate(todo)]
            else:
                results += list(self._aligners.map(result, range(len(todo)), todo))
        if unavailable:
            log.warning("build %d: %d hits have no metadata row any more (removed by an index job since); "
                        "later candidates took their places", build.number, unavailable)
        query_id = None
        if any(r.rank > self.settings.refine_top for r in results):  # their offsets can be refined later
            query_id = self.queries.put(KeptQuery(emb.frames, analysis, query.start_seconds,
                                                  {r.stem_id: r for r in results}, stretches))
        t2 = time.perf_counter()
        response = RetrieveResponse(
            query=_query_info(query, params, analysis, query_id),
            catalogue=CatalogueInfo(searched=searched, total=build.size(None),
                                    instrument_filter=params.instrument_filter, candidates=len(hits),
                                    matching=len(ranked), build=build.number, unavailable=unavailable),
            model=f"{self.embedder.cfg.name}@{self.embedder.checkpoint_hash[:12]}",
            rank=ranking.rank,
            timings=Timings(decode_ms=0, embed_ms=0, analyse_ms=0, search_ms=0, align_ms=0, total_ms=0),
            results=results,
        )
        return response, t1 - t0, t2 - t1

    def _hubs(self, build: Build, hits: list[Hit], params: RetrieveParams) -> np.ndarray | None:
        """Each hit's cosine with the queried instrument's mean query direction, when the search stayed within
        that instrument and the checkpoint has query centres (the hub discount needs both)."""
        centres = self.embedder.query_centres
        if not params.instrument_filter or centres is None or params.instrument not in centres:
            return None
        ids = [h.stem_id for h in hits]
        scores = build.scores_of(centres[params.instrument], ids, params.instrument)
        return np.array([scores.get(i, 0.0) for i in ids])

    def _musical_candidates(self, build: Build, emb: Embedding, analysis: Analysis, ranking: Ranking,
                            scope: str | None, exclude: np.ndarray | None, have: set[int]) -> list[Hit]:
        """The `rank_pool` stems whose musical features alone fit best, beyond the model's nearest: within an
        instrument the model ranks close to chance, so its neighbours alone would leave most compatible stems
        of a large catalogue out of the fusion (MODEL_CARD.md measures the pool size)."""
        ids, table = build.musical_candidates(scope, exclude)
        short = musical_shortlist(analysis.vector(), table, ranking.weights, self.settings.rank_pool, ranking.conform)
        extra = [i for i in ids[short].tolist() if i not in have]
        scores = build.scores_of(emb.vector, extra, scope)
        return [Hit(i, scores[i]) for i in extra if i in scores]

    def _result(self, build: Build, rank_: int, item: Ranked, record: StemRecord, emb: Embedding,
                query: QueryAudio, analysis: Analysis, searched: int, params: RetrieveParams) -> RetrieveResult:
        parts = item.parts
        conformed_key = _transposed(record.key, item.transpose)
        offsets = self._offsets(build, record, item.stretch, emb.frames, analysis, query.start_seconds,
                                rank_ <= self.settings.refine_top, params.curve)
        return RetrieveResult(
            rank=rank_, stem_id=int(record.id), song_id=int(record.song_id), title=record.title,
            artist=record.artist, instrument=record.instrument, name=record.name,
            duration_seconds=record.duration_seconds, score=round(item.score, 6),
            score_parts=ScoreParts(**{k: round(v, 6) for k, v in parts.items()}),
            bpm=_round(record.bpm, 2), key=record.key, camelot=record.camelot,
            transpose_semitones=item.transpose, stretch_ratio=round(item.stretch, 4),
            conformed_bpm=_round(record.bpm * item.stretch, 2) if record.bpm else None,
            conformed_key=conformed_key, conformed_camelot=camelot(parse_key(conformed_key)) if conformed_key else None,
            normalised_rank=round(rank_ / searched, 6), audio_url=f"/stems/{int(record.id)}/audio", **offsets,
        )

    def _offsets(self, build: Build, record: StemRecord, stretch: float, query_frames: np.ndarray,
                 analysis: Analysis, start_seconds: float, refine: bool, with_curve: bool) -> dict[str, Any]:
        """A result's offset fields (RetrieveResult's offset_* , alignment_score and curve): the model curve's
        offset, refined by `_refine` when `refine`; in the upload's time (`start_seconds` is the section's)."""
        fs = self.embedder.frame_seconds
        frames = build.frames(record.id)
        if stretch != 1.0:  # align the stem as it will be played: conformed to the mix's tempo
            frames = _unit_rows(time_scale(frames, stretch))
        aligned = alignment.align_frames(query_frames, frames, fs, self.settings.min_overlap_seconds)
        offset, confidence, refined = aligned.offset_seconds, None, False
        alternatives: list[tuple[float, float | None]] = []
        fused: alignment.FusedCurve | None = None
        if refine:
            better, fused = self._refine(build, record, stretch, analysis, offset, aligned.curve)
            if better:
                (offset, confidence), alternatives, refined = better[0], better[1:], True
        curve = None
        if with_curve:
            curve = CurveOut(
                offsets_seconds=[round(float(lag) * fs + start_seconds, 4) for lag in aligned.curve.lags],
                similarity=[round(float(v), 5) for v in aligned.curve.similarity],
                **_fused_points(fused, start_seconds),
            )
        return dict(
            offset_seconds=round(offset + start_seconds, 4), offset_confidence=_round(confidence, 4),
            alignment_score=round(float(aligned.score), 6), offset_refined=refined,
            offset_alternatives_seconds=[round(a + start_seconds, 4) for a, _ in alternatives],
            offset_alternatives=[OffsetOut(offset_seconds=round(a + start_seconds, 4), confidence=_round(c, 4))
                                 for a, c in alternatives],
            curve=curve,
        )

    def _refine_kept(self, query_id: str, kept: KeptQuery, stem_ids: list[int]) -> RefineResponse:
        build = self.catalogue.current()
        wanted = list(dict.fromkeys(stem_ids))
        records = {r.id: r for r in self.catalogue.stems(wanted)}
        todo = [records[i] for i in wanted if i in records]

        def refined(record: StemRecord) -> RetrieveResult:
            result = kept.results[record.id]
            offsets = self._offsets(build, record, kept.stretches[record.id], kept.frames, kept.analysis,
                                    kept.start_seconds, True, result.curve is not None)
            return result.model_copy(update=offsets)

        if self._aligners is None or len(todo) < 2 or self._in_flight > 1:
            results = [refined(r) for r in todo]
        else:
            results = list(self._aligners.map(refined, todo))
        return RefineResponse(query_id=query_id, results=results,
                              unavailable=[i for i in wanted if i not in records])

    def _refine(self, build: Build, record: StemRecord, stretch: float, analysis: Analysis, coarse: float,
                curve: alignment.Curve) -> tuple[list[tuple[float, float | None]], alignment.FusedCurve | None]:
        """Refined offset first, then up to `offset_alternatives` runners-up, each with its confidence (None
        where none is estimated); empty to keep the coarse one (also for a stem whose analysis the build does
        not hold). Also the fused curve the offsets came from, when there is one (the page draws it)."""
        stem_sig = build.signature(record.id, stretch)  # as played, conformed: its accents blurred once
        if stem_sig is None:
            return [], None
        s, fs = self.settings, self.embedder.frame_seconds
        weights = s.fusion_weights_for(record.instrument)
        if weights.any():
            fused = alignment.fused_curve(curve, fs, analysis.signature, stem_sig, weights)
            if fused is not None and s.placement:
                beats = build.beats(record.id)
                grid = None if beats is None else stored_grid(beats, record.beats_per_bar,
                                                              record.downbeat_seconds).stretched(stretch)
                found = placement.place(fused, analysis.signature, stem_sig, analysis.grid, grid,
                                        s.placement_weights_for(record.instrument), 1 + s.offset_alternatives,
                                        candidate_count=s.placement_candidates)
                return list(zip(found.offsets_seconds, found.confidences, strict=True)), fused
            if fused is not None:
                return [(o, None) for o in fused.peaks(1 + s.offset_alternatives)], fused
        local = alignment.refine_offset(analysis.signature.envelope, stem_sig.envelope, coarse,
                                        s.refine_window_seconds, prior_seconds=1.5 * fs)
        return ([] if local is None else [(local, None)]), None


FUSED_CURVE_POINTS = 1500


def _fused_points(fused: alignment.FusedCurve | None, start_seconds: float) -> dict[str, list[float]]:
    """The fused curve for the answer: at most FUSED_CURVE_POINTS points, each the maximum of its block of
    10 ms lags (so no peak is lost), at the block's best lag; empty without a fused curve."""
    if fused is None or not len(fused.lags):
        return {}
    step = -(-len(fused.lags) // FUSED_CURVE_POINTS)
    n = len(fused.lags) // step * step
    blocks = fused.fused[:n].reshape(-1, step)
    best = blocks.argmax(axis=1) + np.arange(0, n, step)
    seconds = fused.lags[best] * alignment.ONSET_HOP_SECONDS + start_seconds
    return {"fused_offsets_seconds": [round(float(x), 3) for x in seconds],
            "fused": [round(float(v), 4) for v in fused.fused[best]]}


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return np.where(norm > 1e-9, x / np.maximum(norm, 1e-9), 0.0).astype(np.float32)


def _transposed(key: str | None, semitones: int) -> str | None:
    if not key:
        return None
    tonic, mode = parse_key(key)
    return key_name(((tonic + semitones) % 12, mode))


def _query_info(query: QueryAudio, params: RetrieveParams, analysis: Analysis, query_id: str | None) -> QueryInfo:
    grid, key = analysis.grid, analysis.key
    has_key = bool(np.any(analysis.key_profile))
    alternative = key.runner_up if has_key and key.close_call else None
    return QueryInfo(
        filename=query.filename, instrument=params.instrument, duration_seconds=round(query.duration_seconds, 4),
        sample_rate=query.sample_rate, start_seconds=round(query.start_seconds, 4),
        section_seconds=round(len(query.wave) / query.sample_rate, 4),
        bpm=round(analysis.bpm, 2) if analysis.bpm > 0 else None,
        bpm_confidence=round(analysis.tempo.confidence, 4),
        key=key.name if has_key else None, camelot=camelot(key.key) if has_key else None,
        key_confidence=round(key.confidence, 4),
        key_alternative=key_name(alternative) if alternative else None,
        key_alternative_camelot=camelot(alternative) if alternative else None,
        beat_period_seconds=round(grid.period, 4) if grid.period > 0 else None,
        beats_per_bar=grid.beats_per_bar if len(grid.beats) else None,
        downbeat_seconds=round(grid.first_downbeat + query.start_seconds, 4) if len(grid.beats) else None,
        query_id=query_id,
    )
