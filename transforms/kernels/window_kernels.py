"""Compiled sliding-window kernels shared by the pandas and Spark engines.

Every kernel reads rows already sorted by (group, event time, trip id), with `group` a run label
(rows of one group are contiguous), and a row's window is the rows of its group at or before it
in that order whose time is in (t - window, t]. NaN values are missing: skipped, never counted.
The kernels are O(n) or O(n log n); pandas' rolling rank is the reference they are tested against.
"""

from collections.abc import Sequence

import numba
import numpy as np

from transforms.kernels import compiled_cache

# Compiled code is cached beside the source, or, imported from an archive (spark-submit's
# --py-files, Spark Connect artifacts), under the hash of the source: see compiled_cache.
compiled_cache.install()
_CACHE = compiled_cache.can_cache(__file__)


@numba.njit(cache=_CACHE)
def _window_starts(group: np.ndarray, ts: np.ndarray, window: int) -> np.ndarray:
    starts = np.empty(len(ts), dtype=np.int64)
    lo = 0
    for i in range(len(ts)):
        if i > 0 and group[i] != group[i - 1]:
            lo = i
        while ts[lo] <= ts[i] - window:
            lo += 1
        starts[i] = lo
    return starts


@numba.njit(cache=_CACHE)
def rolling_count(group: np.ndarray, ts: np.ndarray, window: int) -> np.ndarray:
    """Rows in each row's window, the row included."""
    starts = _window_starts(group, ts, window)
    return np.arange(len(ts)) - starts + 1


@numba.njit(cache=_CACHE)
def rolling_mean(group: np.ndarray, ts: np.ndarray, x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the non-NaN values in each row's window (NaN when there are none).

    The running sum is compensated (Kahan), as pandas' rolling mean is, so long runs do not drift.
    """
    out = np.empty(len(ts), dtype=np.float64)
    lo = 0
    total = 0.0
    comp = 0.0
    count = 0
    for i in range(len(ts)):
        if i > 0 and group[i] != group[i - 1]:
            lo = i
            total = 0.0
            comp = 0.0
            count = 0
        if not np.isnan(x[i]):
            y = x[i] - comp
            t = total + y
            comp = (t - total) - y
            total = t
            count += 1
        while ts[lo] <= ts[i] - window:
            if not np.isnan(x[lo]):
                y = -x[lo] - comp
                t = total + y
                comp = (t - total) - y
                total = t
                count -= 1
            lo += 1
        if count == 0:
            total = 0.0
            comp = 0.0
            out[i] = np.nan
        else:
            out[i] = total / count
    return out


@numba.njit(cache=_CACHE)
def rolling_max(group: np.ndarray, ts: np.ndarray, x: np.ndarray, window: int) -> np.ndarray:
    """Largest non-NaN value in each row's window (NaN when there is none), by monotonic deque."""
    n = len(ts)
    out = np.empty(n, dtype=np.float64)
    queue = np.empty(n, dtype=np.int64)  # indices with decreasing values
    head = 0
    tail = 0
    lo = 0
    for i in range(n):
        if i > 0 and group[i] != group[i - 1]:
            lo = i
            head = 0
            tail = 0
        while ts[lo] <= ts[i] - window:
            lo += 1
        while head < tail and queue[head] < lo:
            head += 1
        if not np.isnan(x[i]):
            while head < tail and x[queue[tail - 1]] <= x[i]:
                tail -= 1
            queue[tail] = i
            tail += 1
        out[i] = x[queue[head]] if head < tail else np.nan
    return out


@numba.njit(cache=_CACHE)
def rolling_percentile_rank(ts: np.ndarray, x: np.ndarray, window: int) -> np.ndarray:
    """Average-method percentile rank of each value among the non-NaN values of its window.

    Equal to pandas' `rolling(window).rank(pct=True)`; a Fenwick tree over the value ranks makes
    it O(n log n) whatever the window holds.
    """
    n = len(ts)
    out = np.full(n, np.nan)
    valid = ~np.isnan(x)
    values = np.unique(x[valid])
    code = np.searchsorted(values, x)  # 0-based rank of the value; ignored where NaN
    m = len(values)
    tree = np.zeros(m + 1, dtype=np.int64)
    in_window = 0
    lo = 0
    for i in range(n):
        if valid[i]:
            k = code[i] + 1
            while k <= m:
                tree[k] += 1
                k += k & -k
            in_window += 1
        while ts[lo] <= ts[i] - window:
            if valid[lo]:
                k = code[lo] + 1
                while k <= m:
                    tree[k] -= 1
                    k += k & -k
                in_window -= 1
            lo += 1
        if valid[i]:
            less = 0
            k = code[i]
            while k > 0:
                less += tree[k]
                k -= k & -k
            equal = 0  # prefix(code + 1) - prefix(code)
            k = code[i] + 1
            while k > 0:
                equal += tree[k]
                k -= k & -k
            equal -= less
            out[i] = (less + (equal + 1) / 2.0) / in_window
    return out


def ranked_in_sorted_buckets(
    bucket: np.ndarray, ts_us: np.ndarray, dist: np.ndarray, window_us: int
) -> np.ndarray:
    """The rolling percentile of rows sorted by (bucket, time, trip id), bucket by bucket."""
    new_bucket = np.r_[True, bucket[1:] != bucket[:-1]]
    if np.any(bucket[1:] < bucket[:-1]) or np.any((ts_us[1:] < ts_us[:-1]) & ~new_bucket[1:]):
        raise RuntimeError("rows reached the percentile step out of (bucket, time) order")
    starts = np.flatnonzero(new_bucket)
    out = np.empty(len(ts_us), dtype=np.float64)
    for lo, hi in zip(starts, np.r_[starts[1:], len(ts_us)], strict=True):
        out[lo:hi] = rolling_percentile_rank(ts_us[lo:hi], dist[lo:hi], window_us)
    return out


_KERNELS = {
    "count": lambda group, ts, x, window: rolling_count(group, ts, window).astype(np.float64),
    "mean": rolling_mean,
    "max": rolling_max,
}


def windows_of_sorted_groups(
    group: np.ndarray, ts_us: np.ndarray, x: np.ndarray, plan: dict[str, tuple[str, int]]
) -> dict[str, np.ndarray]:
    """feature -> values (float) for rows sorted by (group, time, trip id), for a plan of
    feature -> (count | mean | max, window in microseconds)."""
    new_group = np.r_[True, group[1:] != group[:-1]]
    if np.any(group[1:] < group[:-1]) or np.any((ts_us[1:] < ts_us[:-1]) & ~new_group[1:]):
        raise RuntimeError("rows reached the windows out of (group, time) order")
    return {name: _KERNELS[how](group, ts_us, x, window) for name, (how, window) in plan.items()}


def windows_by_group(
    group: np.ndarray,
    ts_us: np.ndarray,
    trip_id: np.ndarray,
    x: np.ndarray | None,
    plan: dict[str, tuple[str, int]],
) -> dict[str, np.ndarray]:
    """feature -> values in input order, for rows in any order: sorted by (group, time, trip id)
    here, computed, and put back. `x` may be None for plans of counts only."""
    order = np.lexsort((trip_id, ts_us, group))
    x = x[order] if x is not None else np.zeros(len(order))
    out = {}
    for name, values in windows_of_sorted_groups(group[order], ts_us[order], x, plan).items():
        out[name] = np.empty(len(order), dtype=np.float64)
        out[name][order] = values
    return out


def windows_at_queries(
    group: np.ndarray,
    ts_us: np.ndarray,
    is_query: np.ndarray,
    x: np.ndarray,
    plan: dict[str, tuple[str, int]],
) -> dict[str, np.ndarray]:
    """feature -> values in input order, for trips and query rows of any order: each query row
    gets the aggregate over its group's trips with time in (t - window, t], t its own time. A
    query counts no row, itself included; trips at exactly t count, at exactly t - window not
    (as for a trip's own window). Counts count trips (a trip of unknown x too); mean and max
    skip missing x. Values at trip rows mean nothing."""
    order = np.lexsort((is_query, ts_us, group))  # at equal times, trips before queries
    sorted_group, sorted_ts = group[order], ts_us[order]
    trips = ~is_query[order].astype(bool)
    values_of_trips = np.where(trips, x[order], np.nan)
    out = {}
    for name, (how, window) in plan.items():
        if how == "count":
            starts = _window_starts(sorted_group, sorted_ts, window)
            seen = np.r_[0, np.cumsum(trips)]
            values = (seen[1:] - seen[starts]).astype(np.float64)
        else:
            values = _KERNELS[how](sorted_group, sorted_ts, values_of_trips, window)
        out[name] = np.empty(len(order), dtype=np.float64)
        out[name][order] = values
    return out


def windows_at_times(
    asked_us: Sequence[int],
    packed_times: Sequence[bytes | None],
    packed_measures: dict[str, Sequence[bytes | None]],
    plan: dict[str, Sequence],
) -> dict[str, list]:
    """Each row's windows at its time (microseconds), over the trips in its packed arrays (times
    in microseconds, sorted, int64 little-endian; a float64 measure per trip, NaN when missing):
    count, mean and max of the trips in (t - w, t], for a plan of feature -> (aggregation,
    window in microseconds, measure). A row without arrays has counts of 0 and null means. What
    the online lookups compute (definitions.temporal_views, definitions.online_on_demand)."""
    out: dict[str, list] = {name: [] for name in plan}
    for row, t in enumerate(asked_us):
        trips = _unpacked(packed_times, row, "<i8")
        ends = int(np.searchsorted(trips, t, side="right"))
        for name, (how, window, measure) in plan.items():
            lo = int(np.searchsorted(trips, t - window, side="right"))
            if how == "count":
                out[name].append(ends - lo)
                continue
            chosen = _unpacked(packed_measures[measure], row, "<f8")[lo:ends]
            chosen = chosen[~np.isnan(chosen)]
            if not len(chosen):
                out[name].append(None)
            else:
                out[name].append(float(chosen.mean() if how == "mean" else chosen.max()))
    return out


def _unpacked(column: Sequence, row: int, dtype: str) -> np.ndarray:
    """A row's packed array (bytes, none when the driver has no row), without a copy."""
    packed = column[row] if row < len(column) else None
    return np.frombuffer(packed, dtype=dtype) if packed else np.empty(0, dtype=dtype)
