"""Search filters, and the per-claim metadata that turns them into FAISS ID selectors.

Filtering happens *inside* the FAISS search: a filter becomes a bitmap over claim ids that the search
consults for every candidate, so a query still gets k hits from other sources when its own source holds
all of its nearest neighbours. (Post-filtering a short list would return nothing in that case.)

The metadata lives in dense numpy arrays indexed by claim id (claim ids are dense: the store hands them
out in order and never reuses them), 8 bytes per id. A bitmap costs one pass over those arrays; the last
few are cached per filter until the next add or removal.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import faiss
import numpy as np

#: ``published`` of a claim without a date, in days since 1970-01-01.
NO_DATE = np.iinfo(np.int32).min
_EPOCH = dt.date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Which stored claims a search may return.

    Claims without a publish date pass a ``since``/``until`` window unless ``include_undated`` is False:
    an unknown date is not evidence that a claim is outside the window, and dropping them silently would
    hide every undated source from dated queries.
    """

    #: The query's own source: its claims are never returned.
    exclude_source: str | None = None
    #: When not empty, only claims of these sources are returned.
    only_sources: frozenset[str] = frozenset()
    #: Inclusive publish-date window.
    since: dt.date | None = None
    until: dt.date | None = None
    include_undated: bool = True

    @property
    def is_open(self) -> bool:
        """True when the filter lets every claim through."""
        return self.exclude_source is None and not self.only_sources and self.since is None and self.until is None


#: The default filter: every claim may be returned.
ANY = SearchFilter()


@dataclass(frozen=True, slots=True)
class Selection:
    """A filter made concrete for the current index contents."""

    #: None when every live claim passes and no dead ids are in the index: search without a selector.
    selector: faiss.IDSelector | None
    #: How many live claims pass; a search cannot return more hits than this.
    allowed: int
    #: The bitmap the selector reads; held here so that it lives as long as the selector.
    bitmap: np.ndarray | None = None


def day_number(date: dt.date | None) -> int:
    return NO_DATE if date is None else date.toordinal() - _EPOCH


class ClaimMetadata:
    """Source and publish date of every live claim in an index, by claim id.

    Not locked itself: the owning index mutates it only under its write lock. The selection cache has
    its own small lock because concurrent searches fill it.
    """

    def __init__(self, cache_size: int = 256) -> None:
        self._source = np.full(0, -1, dtype=np.int32)  # -1: not a live claim
        self._day = np.full(0, NO_DATE, dtype=np.int32)
        self._codes: dict[str, int] = {}
        self._live = 0
        self._cache: OrderedDict[tuple[SearchFilter, bool], Selection] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    def __len__(self) -> int:
        return self._live

    @property
    def nbytes(self) -> int:
        return int(self._source.nbytes + self._day.nbytes)

    def is_live(self, ids: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``ids`` are live claims."""
        inside = ids < len(self._source)
        out = np.zeros(len(ids), dtype=bool)
        out[inside] = self._source[ids[inside]] >= 0
        return out

    def live_ids(self) -> np.ndarray:
        return np.flatnonzero(self._source >= 0).astype(np.int64)

    def set(self, ids: np.ndarray, source_ids: Sequence[str], published: Sequence[dt.date | None]) -> None:
        if len(ids) == 0:
            return
        self._grow(int(ids.max()) + 1)
        codes = np.fromiter((self._code(s) for s in source_ids), dtype=np.int32, count=len(ids))
        days = np.fromiter((day_number(d) for d in published), dtype=np.int32, count=len(ids))
        self._live += int((self._source[ids] < 0).sum())
        self._source[ids] = codes
        self._day[ids] = days
        self._invalidate()

    def drop(self, ids: np.ndarray) -> None:
        ids = ids[self.is_live(ids)]
        self._source[ids] = -1
        self._day[ids] = NO_DATE
        self._live -= len(ids)
        self._invalidate()

    def selection(self, flt: SearchFilter, has_dead: bool) -> Selection:
        """The selector for ``flt``; ``has_dead``: the index still holds removed ids that must be skipped."""
        if flt.is_open and not has_dead:
            return Selection(None, self._live)
        key = (flt, has_dead)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        mask = self._mask(flt)
        bitmap = np.packbits(mask, bitorder="little")
        selection = Selection(
            selector=faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)),
            allowed=int(np.count_nonzero(mask)),
            bitmap=bitmap,
        )
        with self._cache_lock:
            self._cache[key] = selection
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return selection

    def _mask(self, flt: SearchFilter) -> np.ndarray:
        mask = self._source >= 0
        if flt.exclude_source is not None and flt.exclude_source in self._codes:
            mask &= self._source != self._codes[flt.exclude_source]
        if flt.only_sources:
            wanted = [self._codes[s] for s in flt.only_sources if s in self._codes]
            mask &= np.isin(self._source, np.asarray(wanted, dtype=np.int32))
        if flt.since is not None or flt.until is not None:
            dated = self._day != NO_DATE
            window = dated.copy()
            if flt.since is not None:
                window &= self._day >= day_number(flt.since)
            if flt.until is not None:
                window &= self._day <= day_number(flt.until)
            mask &= (window | ~dated) if flt.include_undated else window
        return mask

    def _code(self, source_id: str) -> int:
        code = self._codes.get(source_id)
        if code is None:
            code = self._codes[source_id] = len(self._codes)
        return code

    def _grow(self, size: int) -> None:
        if size <= len(self._source):
            return
        capacity = max(size, 2 * len(self._source), 1024)
        source = np.full(capacity, -1, dtype=np.int32)
        day = np.full(capacity, NO_DATE, dtype=np.int32)
        source[: len(self._source)] = self._source
        day[: len(self._day)] = self._day
        self._source, self._day = source, day

    def _invalidate(self) -> None:
        with self._cache_lock:
            self._cache.clear()
