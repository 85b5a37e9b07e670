"""Durations in settings and declarations ('90s', '30min', '3h', '7d', '2 days'), parsed one way."""

from __future__ import annotations

import pandas as pd


def parse_duration(value: str | pd.Timedelta, what: str) -> pd.Timedelta:
    """A positive duration, or an error naming `what` and the form to give."""
    try:
        length = pd.Timedelta(value)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{what} {value!r} is not a duration like '30min', '3h' or '7d'") from err
    if pd.isna(length) or length <= pd.Timedelta(0):
        raise ValueError(f"{what} {value!r} must be positive")
    return length
