"""Arrow columns as numpy arrays for the compiled kernels: nulls become NaN in float columns."""

import numpy as np
import pyarrow as pa


def numpy_column(table: pa.Table, name: str) -> np.ndarray:
    """The column as one numpy array; a float column's nulls become NaN, other nulls are an error."""
    column = table.column(name).combine_chunks() if table.num_rows else table.column(name)
    if pa.types.is_floating(column.type):
        return column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    if column.null_count:
        raise ValueError(f"column {name!r} has {column.null_count} null(s) where none may be")
    return column.to_numpy(zero_copy_only=False)


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
