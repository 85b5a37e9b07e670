"""Arrow columns as numpy arrays for the compiled kernels: nulls become NaN in float columns."""

from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa


def nan_as_null(values: np.ndarray) -> pa.Array:
    """A float column for Spark, where NaN is a value and not missing: missing must be null."""
    return pa.array(values, type=pa.float64(), mask=np.isnan(values))


def numpy_array(array: pa.Array) -> np.ndarray:
    """One Arrow array as numpy; float nulls become NaN (the kernels' missing value)."""
    if pa.types.is_floating(array.type):
        return array.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    if array.null_count:
        raise ValueError(f"{array.null_count} null(s) in a {array.type} column that must have none")
    return array.to_numpy(zero_copy_only=False)


def by_whole_runs(
    batches: Iterator[tuple[pa.Array, ...]], compute: Callable[..., pa.Array]
) -> Iterator[pa.Array]:
    """Streams Arrow batches of rows sorted by their first column (the key) through `compute`,
    which gets numpy columns holding whole runs of keys only: the rows of the key still arriving
    are held back until it ends. Yields `compute`'s results, which stay in row order.

    This lets a scalar Arrow UDF see a whole group at a time while Spark keeps the other columns
    of each row in the JVM and only the columns the computation needs cross into Python."""

    def joined(held: list[tuple[np.ndarray, ...]]) -> list[np.ndarray]:
        return [np.concatenate(parts) for parts in zip(*held, strict=True)]

    held: list[tuple[np.ndarray, ...]] = []
    for arrays in batches:
        batch = tuple(numpy_array(a) for a in arrays)
        if len(batch[0]) == 0:
            continue
        held.append(batch)
        last_key = batch[0][-1]
        if held[0][0][0] == last_key:
            continue  # one key held, and it is still arriving
        rows = joined(held)
        whole = int(np.flatnonzero(rows[0] != last_key)[-1]) + 1  # the rows before the last key
        yield compute(*(r[:whole] for r in rows))
        held = [tuple(r[whole:] for r in rows)]
    if held:
        yield compute(*joined(held))
