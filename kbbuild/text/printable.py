"""Input text made safe to print on one line of a terminal or a text report."""

from __future__ import annotations

_CONTROL = {code: f"\\x{code:02x}" for code in [*range(0x20), 0x7F]} | {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
_CONTROL.update({code: f"\\u{code:04x}" for code in [*range(0x80, 0xA0), 0x2028, 0x2029]})


def printable(text: str) -> str:
    """Text from the input (file names, parser messages) with control characters escaped, so that a
    name with a newline in it cannot forge a line of a summary and escape codes cannot drive the
    terminal."""
    return text.translate(_CONTROL)
