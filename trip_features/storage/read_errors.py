"""Spark's errors on reading the trips, turned into what went wrong and what to do about it."""


def read_error_cause(err: Exception) -> str | None:
    """The known cause of a Spark error on reading parquet, if it is one we can name."""
    text = str(err)
    if "TIMESTAMP(NANOS" in text:
        return "nanosecond timestamps"
    if (
        "is not a Parquet file" in text
        or "CANNOT_READ_FILE_FOOTER" in text
        or "corrupt" in text.lower()
    ):
        return "corrupt file"
    return None


def explain_read_error(location: str, err: Exception) -> str:
    """What went wrong reading the trips, and what to do about it."""
    text = str(err)
    cause = read_error_cause(err)
    if cause == "nanosecond timestamps":
        return (
            f"{location} holds nanosecond timestamps, which Spark 4 cannot read: rewrite it with "
            "microsecond timestamps (pandas: to_parquet(..., coerce_timestamps='us'))"
        )
    if cause == "corrupt file":
        return f"{location} holds a corrupt or non-parquet file: {text.splitlines()[0][:300]}"
    return f"cannot read the trips in {location}: {text.splitlines()[0][:300]}"
