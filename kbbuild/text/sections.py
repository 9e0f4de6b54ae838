"""Lines set like headings that name no section: the PDF parser keeps them from the title and the
heading levels, and the headings cleaner turns those that other parsers made headings back into text."""

from __future__ import annotations

import re

# "(續次頁)" (continued on the next page), "單位：新台幣千元" (the unit of the amounts), "董事長：" (a
# signature line's label): set large on statements, they open no section.
_NOT_SECTIONS = re.compile(
    r"^[(（]?(續次頁|续次页|承上頁|承上页|接次頁|接下頁|承前頁|續|续|continued)[)）]?$"
    r"|^(單位|单位|units?|amounts?)\s*[:：]"
    r"|^[^\W\d_]{1,6}\s*[:：]$",
    re.IGNORECASE,
)


def is_not_a_section(text: str) -> bool:
    """A continuation mark, a unit statement or a bare label: a line that names no section."""
    return bool(_NOT_SECTIONS.match(" ".join(text.split())))
