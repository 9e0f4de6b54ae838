"""Dify's ``metadata_condition`` as a SQL filter over the chunk columns.

Dify names a metadata field and an operator (``contains``, ``is``, ``in``, ``empty``, ``>``, ``≥`` ...)
and joins the conditions with ``and``/``or``. Each kbbuild field maps to a column of the chunks table;
a condition on a field or with an operator kbbuild does not have is refused (error 3002) instead of
being ignored, because silently dropping a filter returns documents the caller meant to exclude.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kbbuild.errors import InputError

TEXT_FIELDS = {"source": "source", "document_name": "source", "title": "source", "parser": "parser"}
LIST_FIELDS = {"heading_path": "heading_path", "heading": "heading_path", "kinds": "kinds"}
NUMBER_FIELDS = {"chunk_index": "chunk_index", "n_tokens": "n_tokens", "kb_version": "kb_version"}
PAGE_FIELD = "page"
FIELDS = sorted({*TEXT_FIELDS, *LIST_FIELDS, *NUMBER_FIELDS, PAGE_FIELD})

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


def _number(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(f"expected a number, got {value!r}") from None
    return str(int(number)) if number.is_integer() else repr(number)


def _values(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def _text_condition(column: str, op: str, value: object) -> str:
    like = {"contains": "'%{}%'", "not contains": "'%{}%'", "start with": "'{}%'", "end with": "'%{}'"}
    if op in like:
        pattern = like[op].format(str(value).replace("'", "''"))
        return f"{column} {'NOT ' if op.startswith('not') else ''}LIKE {pattern}"
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
        pattern = "'%" + str(value).replace("'", "''") + "%'"
        return f"{joined} {'NOT ' if op == 'not contains' else ''}LIKE {pattern}"
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


def condition_sql(condition: Condition) -> str:
    name = condition.name[0] if isinstance(condition.name, list) and condition.name else condition.name
    op = condition.comparison_operator.strip().lower()
    if op in ("before", "after"):
        raise InputError(f"'{op}': kbbuild chunks have no date fields (fields: {', '.join(FIELDS)})")
    if op not in ("empty", "not empty") and condition.value is None:
        raise InputError(f"condition on '{name}' with '{op}' needs a value")
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
