"""Checks on what clients send, before anything reaches the engine.

Every refusal names the field and the limit, so the caller can fix the request.
"""

from __future__ import annotations

from collections.abc import Mapping

from switchboard.actors.errors import InvalidArgument

MAX_ID = 128
MAX_MAP_ENTRIES = 64
MAX_KEY = 128
MAX_VALUE = 4096
MAX_NAME = 200
MAX_SKILLS = 32
MAX_RATING = 10
PRIORITY_RANGE = (-1000, 1000)


def require_id(field: str, value: str) -> str:
    if not value:
        raise InvalidArgument(f"{field} is required")
    if len(value) > MAX_ID:
        raise InvalidArgument(f"{field} is {len(value)} characters long; the limit is {MAX_ID}")
    if not value.isprintable():
        raise InvalidArgument(f"{field} must contain only printable characters")
    return value


def text(field: str, value: str, limit: int) -> str:
    """Free text shown to people (a name): refused past `limit`, never cut short."""
    if len(value) > limit:
        raise InvalidArgument(f"{field} is {len(value)} characters long; the limit is {limit}")
    return value


def optional_id(field: str, value: str) -> str:
    return require_id(field, value) if value else value


def string_map(field: str, mapping: Mapping[str, str]) -> dict[str, str]:
    if len(mapping) > MAX_MAP_ENTRIES:
        raise InvalidArgument(f"{field} has {len(mapping)} entries; the limit is {MAX_MAP_ENTRIES}")
    for key, value in mapping.items():
        if not key or len(key) > MAX_KEY or not key.isprintable():
            raise InvalidArgument(
                f"{field}: keys must be 1-{MAX_KEY} printable characters, got {key[:40]!r}"
            )
        if len(value) > MAX_VALUE:
            raise InvalidArgument(
                f"{field}[{key!r}] is {len(value)} characters long; the limit is {MAX_VALUE}"
            )
    return dict(mapping)


def skills(field: str, mapping: Mapping[str, int]) -> dict[str, int]:
    if len(mapping) > MAX_SKILLS:
        raise InvalidArgument(f"{field} has {len(mapping)} skills; the limit is {MAX_SKILLS}")
    for name, rating in mapping.items():
        require_id(f"{field} skill name", name)
        if not 0 <= rating <= MAX_RATING:
            raise InvalidArgument(f"{field}[{name!r}]: rating {rating} is outside 0..{MAX_RATING}")
    return dict(mapping)


def priority(value: int) -> int:
    low, high = PRIORITY_RANGE
    if not low <= value <= high:
        raise InvalidArgument(f"priority {value} is outside {low}..{high}")
    return value
