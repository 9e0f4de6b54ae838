"""Dify's ``metadata_condition`` as a SQL filter over the chunk columns.

Dify names a metadata field and an operator (``contains``, ``is``, ``in``, ``empty``, ``>``, ``≥`` ...)
and joins the conditions with ``and``/``or``. Each kbbuild field maps to a column of the chunks table;
a condition on a field or with an operator kbbuild does not have is refused (error 3002) instead of
being ignored, because silently dropping a filter returns documents the caller meant to exclude.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, Field

from kbbuild.errors import InputError

TEXT_FIELDS = {"source": "source", "document_name": "source", "title": "source", "parser": "parser"}
LIST_FIELDS = {"heading_path": "heading_path", "heading": "heading_path", "kinds": "kinds"}
NUMBER_FIELDS = {"chunk_index": "chunk_index", "n_tokens": "n_tokens", "kb_version": "kb_version"}
PAGE_FIELD = "page"
FIELDS = sorted({*TEXT_FIELDS, *LIST_FIELDS, *NUMBER_FIELDS, PAGE_FIELD})

_LARGEST = 2**53
_NUMERIC = {"=": "=", "≠": "!=", "!=": "!=", ">": ">", "<": "<", "≥": ">=", ">=": ">=", "≤": "<=", "<=": "<="}


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


def _field(name: str | list[str]) -> str:
    """The one field a condition names. Older Dify versions send it as a one-element list; an empty
    or longer list names no single field, and guessing one would filter on something not asked for."""
    if isinstance(name, str):
        return name
    if len(name) == 1:
        return name[0]
    raise InputError(f"a condition must name one metadata field, got {len(name)} (fields: {', '.join(FIELDS)})")


def condition_sql(condition: Condition) -> str:
    name = _field(condition.name)
    op = condition.comparison_operator.strip().lower()
    if op in ("before", "after"):
        raise InputError(f"'{op}': kbbuild chunks have no date fields (fields: {', '.join(FIELDS)})")
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
    except InputError as error:
        raise InputError(f"metadata condition on '{name}': {error}") from None
    raise InputError(f"unknown metadata field '{name}' (fields: {', '.join(FIELDS)})")


def metadata_sql(metadata: MetadataCondition | None) -> str | None:
    if metadata is None or not metadata.conditions:
        return None
    joiner = " AND " if metadata.logical_operator == "and" else " OR "
    return joiner.join(f"({condition_sql(c)})" for c in metadata.conditions)
