"""Retrieval: an uploaded mix and an instrument in, ranked catalogue stems with alignment offsets out.

Stages (each timed): decode and validate the upload, predict the query embedding (micro-batched), search
the catalogue, align each hit by frame cross-correlation (fused with band-onset, accent and chroma
correlation at 10 ms for the top hits), then assemble the answer.
"""

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock

import anyio

from indexer.catalog import Catalogue, Hit, StemRecord
from model.embed import Embedder, Embedding
from model.errors import AudioDecodeError
from service import alignment
from service.batching import MicroBatcher
from service.errors import invalid
from service.intake import QueryAudio, read_query
from service.metrics import Metrics
from service.schemas import CatalogueInfo, CurveOut, QueryInfo, RetrieveResponse, RetrieveResult, Timings
from service.settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrieveParams:
    instrument: str
    k: int
    instrument_filter: bool = True
    start: float | None = None
    duration: float | None = None
    exclude_song_ids: tuple[int, ...] = ()
    curve: bool = False


class SignatureCache:
    """Onset, accent and chroma features of catalogue stems (alignment.Signature), decoded once and kept
    (LRU, thread-safe)."""

    def __init__(self, embedder: Embedder, capacity: int = 256) -> None:
        self._embedder = embedder
        self._capacity = capacity
        self._items: OrderedDict[int, alignment.Signature] = OrderedDict()
        self._lock = Lock()

    def get(self, stem: StemRecord) -> alignment.Signature:
        with self._lock:
            if stem.id in self._items:
                self._items.move_to_end(stem.id)
                return self._items[stem.id]
        wave = self._embedder.load_audio(stem.path, stem.stream)
        sig = alignment.signature(wave, self._embedder.sample_rate)
        with self._lock:
            self._items[stem.id] = sig
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)
        return sig


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 2)


class Retriever:
    """Runs the retrieval stages against one embedder and one catalogue."""

    def __init__(self, embedder: Embedder, catalogue: Catalogue, batcher: MicroBatcher,
                 settings: ServiceSettings, metrics: Metrics) -> None:
        self.embedder = embedder
        self.catalogue = catalogue
        self.batcher = batcher
        self.settings = settings
        self.metrics = metrics
        self.signatures = SignatureCache(embedder, settings.signature_cache_stems)

    def check_params(self, params: RetrieveParams) -> None:
        """Rejects bad parameters before any audio is decoded (422)."""
        self.embedder.vocabulary.index(params.instrument)  # UnknownInstrumentError -> 422
        if not 1 <= params.k <= self.settings.max_k:
            raise invalid(f"k must lie in 1..{self.settings.max_k}, got {params.k}", {"max_k": self.settings.max_k})

    async def retrieve(self, data: bytes, filename: str | None, content_type: str | None,
                       params: RetrieveParams) -> RetrieveResponse:
        self.check_params(params)
        t0 = time.perf_counter()
        s = self.settings
        query = await anyio.to_thread.run_sync(
            lambda: read_query(data, filename, content_type, self.embedder.sample_rate, s.max_upload_bytes,
                               s.max_audio_seconds, s.min_audio_seconds, s.silence_dbfs, params.start, params.duration)
        )
        t1 = time.perf_counter()
        embedding: Embedding = await asyncio.wrap_future(self.batcher.submit(query.wave, params.instrument))
        t2 = time.perf_counter()
        response, t_search, t_align = await anyio.to_thread.run_sync(
            lambda: self._search_and_align(query, embedding, params))
        t3 = time.perf_counter()
        timings = Timings(decode_ms=_ms(t1 - t0), embed_ms=_ms(t2 - t1), search_ms=_ms(t_search),
                          align_ms=_ms(t_align), total_ms=_ms(t3 - t0))
        for stage, seconds in (("decode", t1 - t0), ("embed", t2 - t1), ("search", t_search), ("align", t_align)):
            self.metrics.stage.labels(stage).observe(seconds)
        return response.model_copy(update={"timings": timings})

    def _search_and_align(self, query: QueryAudio, emb: Embedding,
                          params: RetrieveParams) -> tuple[RetrieveResponse, float, float]:
        t0 = time.perf_counter()
        scope = params.instrument if params.instrument_filter else None
        hits = list(self.catalogue.search(emb.vector, params.k, instrument=scope,
                                          exclude_song_ids=params.exclude_song_ids))
        searched = self.catalogue.size(scope)
        records = {r.id: r for r in self.catalogue.stems([h.stem_id for h in hits]) if r is not None}
        t1 = time.perf_counter()
        query_sig = alignment.signature(query.wave, query.sample_rate) if self.settings.refine_top else None
        results = []
        for rank, hit in enumerate(hits, start=1):
            record = records.get(hit.stem_id)
            if record is None:  # removed between search and lookup by a concurrent index job
                continue
            results.append(self._result(rank, hit, record, emb, query, query_sig, max(searched, 1), params))
        t2 = time.perf_counter()
        response = RetrieveResponse(
            query=QueryInfo(filename=query.filename, instrument=params.instrument,
                            duration_seconds=round(query.duration_seconds, 4), sample_rate=query.sample_rate,
                            start_seconds=round(query.start_seconds, 4),
                            section_seconds=round(len(query.wave) / query.sample_rate, 4)),
            catalogue=CatalogueInfo(searched=searched, total=self.catalogue.size(None),
                                    instrument_filter=params.instrument_filter),
            model=f"{self.embedder.cfg.name}@{self.embedder.checkpoint_hash[:12]}",
            timings=Timings(decode_ms=0, embed_ms=0, search_ms=0, align_ms=0, total_ms=0),
            results=results,
        )
        return response, t1 - t0, t2 - t1

    def _result(self, rank: int, hit: Hit, record: StemRecord, emb: Embedding, query: QueryAudio,
                query_sig: alignment.Signature | None, searched: int, params: RetrieveParams) -> RetrieveResult:
        fs = self.embedder.frame_seconds
        frames = self.catalogue.frames(record.id)
        aligned = alignment.align_frames(emb.frames, frames, fs, self.settings.min_overlap_seconds)
        offset, refined, alternatives = aligned.offset_seconds, False, []
        if query_sig is not None and rank <= self.settings.refine_top:
            better = self._refine(record, query_sig, offset, aligned.curve)
            if better:
                offset, alternatives, refined = better[0], better[1:], True
        curve = None
        if params.curve:
            curve = CurveOut(
                offsets_seconds=[round(float(lag) * fs + query.start_seconds, 4) for lag in aligned.curve.lags],
                similarity=[round(float(v), 5) for v in aligned.curve.similarity],
            )
        return RetrieveResult(
            rank=rank, stem_id=int(record.id), song_id=int(record.song_id), title=record.title,
            artist=record.artist, instrument=record.instrument, name=record.name,
            duration_seconds=record.duration_seconds, score=round(float(hit.score), 6),
            normalised_rank=round(rank / searched, 6),
            offset_seconds=round(offset + query.start_seconds, 4),
            alignment_score=round(float(aligned.score), 6), offset_refined=refined,
            offset_alternatives_seconds=[round(a + query.start_seconds, 4) for a in alternatives],
            audio_url=f"/stems/{int(record.id)}/audio", curve=curve,
        )

    def _refine(self, record: StemRecord, query_sig: alignment.Signature, coarse: float,
                curve: alignment.Curve) -> list[float]:
        """Refined offset first, then up to `offset_alternatives` runners-up; empty to keep the coarse one."""
        try:
            stem_sig = self.signatures.get(record)
        except AudioDecodeError as exc:  # a catalogue file gone bad: keep the frame-level offset
            log.warning("cannot refine offset of stem %s: %s", record.id, exc)
            return []
        weights = self.settings.fusion_weights_for(record.instrument)
        if weights.any():
            fused = alignment.fused_offsets(curve, self.embedder.frame_seconds, query_sig, stem_sig, weights,
                                            1 + self.settings.offset_alternatives)
            if fused:
                return fused
        local = alignment.refine_offset(query_sig.envelope, stem_sig.envelope, coarse,
                                        self.settings.refine_window_seconds,
                                        prior_seconds=1.5 * self.embedder.frame_seconds)
        return [] if local is None else [local]
