"""Personal data found and replaced by typed placeholders ("[PHONE]"), with counts per kind.

Numbers are only redacted when they are what they look like: a Chinese resident ID must carry a
valid birth date and its ISO 7064 MOD 11-2 check digit, a bank card number must pass the Luhn check,
a phone number must be valid for its country (Google's libphonenumber data, via ``phonenumbers``),
an IP address must have octets up to 255. A 16-digit invoice number is therefore left alone; an
order number that happens to pass Luhn is not (one in ten does), which is the price of recall.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

PLACEHOLDERS = {
    "email": "[EMAIL]",
    "cn_id": "[CN_ID]",
    "bank_card": "[BANK_CARD]",
    "phone": "[PHONE]",
    "ip": "[IP]",
}

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
_CN_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
_IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)")
_IPV6 = re.compile(r"(?<![0-9A-Fa-f:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Fa-f:])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def valid_cn_id(number: str) -> bool:
    """18-digit resident identity number: region code, a real birth date, the check character."""
    number = number.upper()
    if not re.fullmatch(r"[1-9]\d{16}[\dX]", number):
        return False
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    if not date(1900, 1, 1) <= born <= date.today():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17]


def luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def valid_card(candidate: str) -> bool:
    """13-19 digits (spaces or dashes between groups allowed) passing the Luhn check, not all one digit."""
    digits = re.sub(r"[ -]", "", candidate)
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_ok(digits)


def valid_ip(candidate: str) -> bool:
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if address.version == 4:  # "1.2.3.4"-like section numbers are not addresses
        return not all(int(part) < 10 for part in candidate.split("."))
    return True


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str


def _regex_finder(pattern: re.Pattern[str], kind: str, check: Callable[[str], bool] | None = None):
    def find(text: str, region: str) -> Iterable[_Span]:
        for match in pattern.finditer(text):
            if check is None or check(match.group()):
                yield _Span(match.start(), match.end(), kind)

    return find


def _phones(text: str, region: str) -> Iterable[_Span]:
    import phonenumbers

    for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
        yield _Span(match.start, match.end, "phone")


# Most specific first: an ID number or a card number also looks like a (long) phone number.
_FINDERS = {
    "email": _regex_finder(_EMAIL, "email"),
    "cn_id": _regex_finder(_CN_ID, "cn_id", valid_cn_id),
    "bank_card": _regex_finder(_CARD, "bank_card", valid_card),
    "ip": lambda text, region: [
        *_regex_finder(_IPV4, "ip", valid_ip)(text, region),
        *_regex_finder(_IPV6, "ip", valid_ip)(text, region),
    ],
    "phone": _phones,
}


def find_pii(text: str, kinds: Iterable[str], region: str = "CN") -> list[_Span]:
    """Non-overlapping spans of personal data, earlier finders winning ties."""
    wanted = set(kinds)
    taken: list[_Span] = []
    for kind, finder in _FINDERS.items():
        if kind not in wanted:
            continue
        for span in finder(text, region):
            if all(span.end <= other.start or span.start >= other.end for other in taken):
                taken.append(span)
    return sorted(taken, key=lambda span: span.start)


def redact(text: str, kinds: Iterable[str], region: str = "CN") -> tuple[str, Counter[str]]:
    """``text`` with each piece of personal data replaced by its placeholder, and counts per kind."""
    spans = find_pii(text, kinds, region)
    counts: Counter[str] = Counter(span.kind for span in spans)
    for span in reversed(spans):
        text = text[: span.start] + PLACEHOLDERS[span.kind] + text[span.end :]
    return text, counts
