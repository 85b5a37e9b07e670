"""Durations in settings and declarations ('90s', '30min', '3h', '7d', '2 days'), parsed one way."""

from __future__ import annotations

import numbers

import pandas as pd


def parse_duration(value: str | pd.Timedelta, what: str) -> pd.Timedelta:
    """A positive duration, or an error naming `what` and the form to give."""
    if isinstance(value, numbers.Real):  # pandas would take it as nanoseconds: 3600 -> 3.6 us
        raise ValueError(
            f"{what} {value!r} has no unit: write it like '90s', '30min', '3h' or '7d' "
            "(in YAML, 1:00:00 is the number 3600)"
        )
    try:
        length = pd.Timedelta(value)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{what} {value!r} is not a duration like '30min', '3h' or '7d'") from err
    if pd.isna(length) or length <= pd.Timedelta(0):
        raise ValueError(f"{what} {value!r} must be positive")
    return length
