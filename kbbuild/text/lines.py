"""Join the visual lines of a text block into running text, the right way for each script.

English lines are joined with a space, and a word hyphenated across a line break is rejoined;
Chinese and Japanese lines are joined with nothing, because those scripts put no spaces between
words and a stray space breaks phrase matching in full-text search.
"""

from __future__ import annotations

import re

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b]+")


def is_cjk(char: str) -> bool:
    return bool(char) and bool(_CJK.match(char))


def join_lines(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    out = lines[0]
    for line in lines[1:]:
        prev, nxt = out[-1], line[0]
        if prev == "-" and len(out) > 1 and out[-2].isalpha() and nxt.isalpha():
            # "manu-" + "facturing" rejoins; "Well-" + "Known" keeps its hyphen.
            out = (out[:-1] if nxt.islower() else out) + line
        elif is_cjk(prev) or is_cjk(nxt):
            out += line
        else:
            out += " " + line
    return out
