"""Field types for the request models of both APIs: numbers as JSON sends them, ranges that say so.

- ``number(...)``: a JSON number, integer or not (``"temperature": 2`` is 2.0), finite, never a
  string or a boolean; it comes out as a float (transformers' warpers refuse a Python ``int``).
- ``integer(...)``: a JSON integer (``2.0`` counts, ``2.5`` does not), never a string or a boolean.
- Both take the allowed range, which goes into the OpenAPI schema (``minimum``, ``exclusiveMaximum``...)
  and into the error message: "`top_p`: must be > 0 and < 1, got 1.5".

Written with pydantic's ``BeforeValidator``/``AfterValidator`` rather than ``Field(ge=...)``, so
that one message states the whole range whichever bound is broken.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field


def _to_number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {value!r}")
    try:
        value = float(value)
    except OverflowError:
        raise ValueError("must be a finite number") from None
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number, got {value!r}")
    return value


def _to_integer(value: Any) -> int:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"must be an integer, got {value!r}")
    return value


def describe(lo=None, hi=None, lo_open=False, hi_open=False) -> str:
    """The range in words: "between 0 and 2", "> 0 and < 1", ">= 1", "strictly positive"."""
    if lo is not None and hi is not None:
        if not lo_open and not hi_open:
            return f"between {lo} and {hi}"
        return f"{'>' if lo_open else '>='} {lo} and {'<' if hi_open else '<='} {hi}"
    if lo is not None:
        return "strictly positive" if lo == 0 and lo_open else f"{'>' if lo_open else '>='} {lo}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {hi}"
    return "any value"


def _range_check(lo, hi, lo_open, hi_open):
    def check(value):
        too_low = lo is not None and (value <= lo if lo_open else value < lo)
        too_high = hi is not None and (value >= hi if hi_open else value > hi)
        if too_low or too_high:
            raise ValueError(f"must be {describe(lo, hi, lo_open, hi_open)}, got {value!r}")
        return value

    return check


def _schema(lo, hi, lo_open, hi_open) -> dict:
    schema = {}
    if lo is not None:
        schema["exclusiveMinimum" if lo_open else "minimum"] = lo
    if hi is not None:
        schema["exclusiveMaximum" if hi_open else "maximum"] = hi
    return schema


def number(lo=None, hi=None, *, lo_open=False, hi_open=False, description: str | None = None):
    """A float field given as any JSON number, within the range."""
    return Annotated[
        float,
        BeforeValidator(_to_number),
        AfterValidator(_range_check(lo, hi, lo_open, hi_open)),
        Field(json_schema_extra=_schema(lo, hi, lo_open, hi_open), description=description),
    ]


def integer(lo=None, hi=None, *, lo_open=False, hi_open=False, description: str | None = None):
    """An int field given as a JSON integer, within the range."""
    return Annotated[
        int,
        BeforeValidator(_to_integer),
        AfterValidator(_range_check(lo, hi, lo_open, hi_open)),
        Field(json_schema_extra=_schema(lo, hi, lo_open, hi_open), description=description),
    ]


def only(*allowed, why: str):
    """A field the server does not implement: ``null`` or one of ``allowed`` (values that change
    nothing) pass; anything else is refused with ``why``."""

    def check(value):
        if value is not None and value not in allowed:
            raise ValueError(f"not supported by this server: {why}")
        return value

    return Annotated[Any, AfterValidator(check), Field(description=f"not supported: {why}")]
