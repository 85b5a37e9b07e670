"""Whether a view's source is small enough to be handled whole (sorted whole per key, or read
into the driver), known from its files alone."""

from pyspark.sql import DataFrame

from trip_features.runtime.input_size import local_and_under

# Below this many bytes of files, a view's keys are sorted whole (ViewJoin.whole_timelines): a
# warm training set of 5,000 entity rows on two 200,000-row views took 3.5 s that way, 6.8 s in
# hourly buckets (docs/benchmark-log.md), and a key of a source this small cannot unbalance a task.
SMALL_SOURCE_BYTES = 64 * 2**20


def known_small(frame: DataFrame, in_memory_counts: bool = False) -> bool:
    """Whether `frame` reads local files only, together under SMALL_SOURCE_BYTES. Files elsewhere
    (object stores, a Connect server's disk) count as large; so do sources without files, unless
    `in_memory_counts` (rows built in memory: the caller bounds them itself)."""
    try:
        files = frame.inputFiles()
    except Exception:  # a source Spark cannot list files of
        return False
    if not files:
        return in_memory_counts
    return local_and_under(files, SMALL_SOURCE_BYTES)
