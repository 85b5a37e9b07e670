"""Sizes in settings ('16m', '512k', '1g', a number of bytes), parsed one way."""

from __future__ import annotations

import re
from typing import Any

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30}


def parse_bytes(value: Any, key: str) -> int:
    """`value` ("16m", "512k", "1g", a number of bytes) in bytes; anything else is refused."""
    found = _SIZE.match(str(value))
    if not found:
        raise ValueError(f"{key} is {value!r}: give a size such as 16m, 512k or 1g")
    return int(found.group(1)) * _UNITS[found.group(2).lower()]
