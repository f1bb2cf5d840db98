"""Reading JSON text that someone else wrote, within bounds.

Python's ``json`` parser recurses once per nesting level (a 10^5-deep document is a
RecursionError), accepts integers of any length and turns ``1e999`` into ``inf``. The
readers of config files and of messages from a broker check the nesting first, without
parsing, and parse numbers into finite floats and bounded integers.
"""

from __future__ import annotations

import json
import math
from typing import Any

#: the most decimal digits an integer may have (2**64 has 20; beyond, not a quantity here)
MAX_INT_DIGITS = 20


def json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in JSON ``text`` outside strings, found by one
    linear scan (no parsing, no recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range (not a finite float)")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValueError(f"integer of {len(text.lstrip('-'))} digits (at most"
                         f" {MAX_INT_DIGITS})")
    return int(text)


def _no_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} is not valid JSON")


def loads_bounded(text: str | bytes, max_depth: int, max_bytes: int) -> Any:
    """Parse JSON ``text`` of at most ``max_bytes`` bytes and ``max_depth`` levels of
    nesting, with finite floats and integers of at most :data:`MAX_INT_DIGITS` digits;
    ValueError (one line saying what) otherwise."""
    if len(text) > max_bytes:
        raise ValueError(f"{len(text)} bytes (at most {max_bytes})")
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    depth = json_depth(text)
    if depth > max_depth:
        raise ValueError(f"nested {depth} levels deep (at most {max_depth})")
    return json.loads(text, parse_float=_finite_float, parse_int=_bounded_int,
                      parse_constant=_no_constant)
