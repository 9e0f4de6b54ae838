"""Dify's ``metadata_condition`` as a SQL filter over the chunk columns.

Dify names a metadata field and an operator (``contains``, ``is``, ``in``, ``empty``, ``>``, ``≥`` ...)
and joins the conditions with ``and``/``or``. Each kbbuild field maps to a column of the chunks table;
a condition on a field or with an operator kbbuild does not have is refused (error 3002) instead of
being ignored, because silently dropping a filter returns documents the caller meant to exclude.

The date fields (``before``/``after``, ``empty``/``not empty``) are facts about a file, kept in the
version's manifest rather than on every chunk: ``modified`` (the file's modification time when it
was last ingested), ``ingested`` (when the version that wrote its current rows was made) and
``document_date`` (the date the document gives itself: a PDF's CreationDate). A date condition
becomes the list of files that satisfy it, ``source IN (...)``. A date without a time covers its
whole day: ``before 2025-06-10`` is earlier than that day, ``after 2025-06-10`` later than it. A
number is Unix seconds (what Dify stores for its own time fields). Files recorded before kbbuild
kept a date have none: they match ``empty`` and never ``before``/``after``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Literal

from pydantic import BaseModel, Field

from kbbuild.errors import InputError
from kbbuild.records import FileStatus

TEXT_FIELDS = {"source": "source", "document_name": "source", "title": "source", "parser": "parser"}
LIST_FIELDS = {"heading_path": "heading_path", "heading": "heading_path", "kinds": "kinds"}
NUMBER_FIELDS = {"chunk_index": "chunk_index", "n_tokens": "n_tokens", "kb_version": "kb_version"}
PAGE_FIELD = "page"
DATE_FIELDS = {
    "modified": "modified",
    "file_modified": "modified",
    "ingested": "ingested",
    "ingested_at": "ingested",
    "document_date": "document_date",
    "created": "document_date",
}
FIELDS = sorted({*TEXT_FIELDS, *LIST_FIELDS, *NUMBER_FIELDS, PAGE_FIELD, *DATE_FIELDS})

_LARGEST = 2**53
_NUMERIC = {"=": "=", "≠": "!=", "!=": "!=", ">": ">", "<": "<", "≥": ">=", ">=": ">=", "≤": "<=", "<=": "<="}


@dataclass(frozen=True)
class FileDates:
    """The date fields of the files of one KB version: {field: {source: when or None}}."""

    by_field: dict[str, dict[str, datetime | None]]

    @classmethod
    def of(cls, files) -> FileDates:
        """From a manifest's file records (those whose rows are in the version)."""
        present = [f for f in files if f.status in (FileStatus.INGESTED, FileStatus.UNCHANGED)]
        fields = sorted(set(DATE_FIELDS.values()))
        return cls({name: {f.relpath: getattr(f, name) for f in present} for name in fields})


# Called only when a condition names a date field, so that other requests never read the manifest.
DatesLookup = Callable[[], FileDates]


class Condition(BaseModel):
    name: str | list[str] = Field(description="Metadata field (Dify sends a string, older versions a list).")
    comparison_operator: str
    value: str | int | float | list[str] | None = None


class MetadataCondition(BaseModel):
    logical_operator: Literal["and", "or"] = "and"
    conditions: list[Condition] = Field(default_factory=list)


def _text(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _shown(value: object) -> str:
    """The client's value as an error message quotes it: short, since it may be anything."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: object) -> str:
    """A SQL number. NaN, infinities and integers past 2**53 would reach LanceDB as literals its
    columns cannot hold (Python's JSON accepts ``NaN`` and 400-digit integers), so they are refused here."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"expected a number, got {_shown(value)}") from None
    if not math.isfinite(number) or abs(number) > _LARGEST:
        raise InputError(f"expected a finite number of at most 2**53, got {_shown(value)}")
    return str(int(number)) if number.is_integer() else repr(number)


def _values(value: object) -> list[object]:
    values = list(value) if isinstance(value, list) else [value]
    if not values:
        raise InputError("needs at least one value")
    return values


def _like(value: object, template: str) -> str:
    """A LIKE pattern that matches ``value`` literally: unescaped, a '%' or '_' in the value is a
    wildcard, and "contains 100%" would match every row. LanceDB's SQL takes backslash (only) as
    the escape character, and doubles quotes inside the string literal."""
    literal = str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return _text(template.format(literal)) + " ESCAPE '\\'"


def _text_condition(column: str, op: str, value: object) -> str:
    like = {"contains": "%{}%", "not contains": "%{}%", "start with": "{}%", "end with": "%{}"}
    if op in like:
        return f"{column} {'NOT ' if op.startswith('not') else ''}LIKE {_like(value, like[op])}"
    if op in ("is", "=", "is not", "≠", "!="):
        return f"{column} {'=' if op in ('is', '=') else '!='} {_text(value)}"
    if op in ("in", "not in"):
        listed = ", ".join(_text(v) for v in _values(value))
        return f"{column} {'NOT ' if op == 'not in' else ''}IN ({listed})"
    if op == "empty":
        return f"({column} IS NULL OR {column} = '')"
    if op == "not empty":
        return f"({column} IS NOT NULL AND {column} != '')"
    raise InputError(f"operator '{op}' does not apply to text field")


def _list_condition(column: str, op: str, value: object) -> str:
    joined = f"array_to_string({column}, ' > ')"
    if op in ("contains", "not contains"):
        return f"{joined} {'NOT ' if op == 'not contains' else ''}LIKE {_like(value, '%{}%')}"
    if op in ("is", "is not"):
        return f"{'NOT ' if op == 'is not' else ''}array_has({column}, {_text(value)})"
    if op in ("in", "not in"):
        listed = ", ".join(_text(v) for v in _values(value))
        return f"{'NOT ' if op == 'not in' else ''}array_has_any({column}, [{listed}])"
    if op == "empty":
        return f"({column} IS NULL OR array_length({column}) = 0)"
    if op == "not empty":
        return f"array_length({column}) > 0"
    raise InputError(f"operator '{op}' does not apply to list field")


def _page_condition(op: str, value: object) -> str:
    """A chunk spans page_start..page_end; 'page = 5' means the chunk touches page 5."""
    if op in ("in", "not in"):
        pages = ", ".join(_number(v) for v in _values(value))
        return f"{'NOT ' if op == 'not in' else ''}array_has_any(pages, [{pages}])"
    sql = _NUMERIC.get(op) or {"is": "=", "is not": "!="}.get(op)
    if sql is None:
        raise InputError(f"operator '{op}' does not apply to page")
    n = _number(value)
    return {
        "=": f"(page_start <= {n} AND page_end >= {n})",
        "!=": f"NOT (page_start <= {n} AND page_end >= {n})",
        ">": f"page_end > {n}",
        ">=": f"page_end >= {n}",
        "<": f"page_start < {n}",
        "<=": f"page_start <= {n}",
    }[sql]


def _number_condition(column: str, op: str, value: object) -> str:
    if op in ("in", "not in"):
        listed = ", ".join(_number(v) for v in _values(value))
        return f"{column} {'NOT ' if op == 'not in' else ''}IN ({listed})"
    sql = _NUMERIC.get(op) or {"is": "=", "is not": "!="}.get(op)
    if sql is None:
        raise InputError(f"operator '{op}' does not apply to number field")
    return f"{column} {sql} {_number(value)}"


def _moment(value: object) -> tuple[datetime, datetime]:
    """The span a date value names, as (first instant, last instant): a whole day for a date, one
    instant for a date with a time or for Unix seconds."""
    if isinstance(value, str) and value.strip().lstrip("-").replace(".", "", 1).isdigit():
        value = float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value) or abs(value) > 2**40:
            raise InputError(f"expected a date, got {_shown(value)}")
        instant = datetime.fromtimestamp(value, timezone.utc)
        return instant, instant
    if not isinstance(value, str):
        raise InputError(f"expected a date (ISO 8601, or Unix seconds), got {_shown(value)}")
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
            return start, start + timedelta(days=1) - timedelta(microseconds=1)
        instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"expected a date (ISO 8601, or Unix seconds), got {_shown(value)}") from None
    instant = instant if instant.tzinfo else instant.replace(tzinfo=timezone.utc)
    return instant, instant


def _date_condition(field: str, op: str, value: object, dates: DatesLookup | None) -> str:
    if op not in ("before", "after", "empty", "not empty"):
        raise InputError(f"operator '{op}' does not apply to a date field (before, after, empty, not empty)")
    if dates is None:
        raise InputError("date fields are not available here")
    known = dates().by_field[field]
    if op == "empty":
        matching = [source for source, when in known.items() if when is None]
    elif op == "not empty":
        matching = [source for source, when in known.items() if when is not None]
    else:
        first, last = _moment(value)
        if op == "before":
            matching = [source for source, when in known.items() if when is not None and when < first]
        else:
            matching = [source for source, when in known.items() if when is not None and when > last]
    if not matching:
        return "FALSE"
    return f"source IN ({', '.join(_text(source) for source in sorted(matching))})"


def _field(name: str | list[str]) -> str:
    """The one field a condition names. Older Dify versions send it as a one-element list; an empty
    or longer list names no single field, and guessing one would filter on something not asked for."""
    if isinstance(name, str):
        return name
    if len(name) == 1:
        return name[0]
    raise InputError(f"a condition must name one metadata field, got {len(name)} (fields: {', '.join(FIELDS)})")


def condition_sql(condition: Condition, dates: DatesLookup | None = None) -> str:
    name = _field(condition.name)
    op = condition.comparison_operator.strip().lower()
    if op in ("before", "after") and name not in DATE_FIELDS:
        fields = ", ".join(sorted(DATE_FIELDS))
        raise InputError(f"'{op}' applies to the date fields ({fields}), not to '{name}'")
    if op not in ("empty", "not empty") and condition.value is None:
        raise InputError(f"condition on '{name}' with '{op}' needs a value")
    if op not in ("in", "not in", "empty", "not empty") and isinstance(condition.value, list):
        raise InputError(f"condition on '{name}' with '{op}' takes one value, not a list (use 'in')")
    try:
        if name in TEXT_FIELDS:
            return _text_condition(TEXT_FIELDS[name], op, condition.value)
        if name in LIST_FIELDS:
            return _list_condition(LIST_FIELDS[name], op, condition.value)
        if name in NUMBER_FIELDS:
            return _number_condition(NUMBER_FIELDS[name], op, condition.value)
        if name == PAGE_FIELD:
            return _page_condition(op, condition.value)
        if name in DATE_FIELDS:
            return _date_condition(DATE_FIELDS[name], op, condition.value, dates)
    except InputError as error:
        raise InputError(f"metadata condition on '{name}': {error}") from None
    raise InputError(f"unknown metadata field '{name}' (fields: {', '.join(FIELDS)})")


def metadata_sql(metadata: MetadataCondition | None, dates: DatesLookup | None = None) -> str | None:
    """The SQL filter of Dify's conditions; ``dates`` gives the searched version's file dates, for
    conditions on date fields."""
    if metadata is None or not metadata.conditions:
        return None
    joiner = " AND " if metadata.logical_operator == "and" else " OR "
    return joiner.join(f"({condition_sql(c, dates)})" for c in metadata.conditions)
