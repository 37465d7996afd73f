"""What every parser shares: the error for an answer that cannot be trusted, and value normalisation."""

from __future__ import annotations

import re

MAX_LABEL_LEN = 64


class PayloadError(Exception):
    """The answer is not usable. ``reason`` is a bounded token (a metric label, see exporter.reasons)."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)

    def __reduce__(self):  # crosses the process boundary when a worker process parses
        return PayloadError, (self.reason, str(self))


def invalid(message: str) -> PayloadError:
    """Malformed: not the syntax it claims (truncated XML, broken JSON)."""
    return PayloadError("invalid_payload", message)


def degenerate(message: str) -> PayloadError:
    """Well-formed but holding no stats (``{}``, an empty database, an HTML page, the wrong table)."""
    return PayloadError("degenerate_payload", message)


class EmptyAnswer(PayloadError):
    """A degenerate answer that is empty: no body, ``{}``, ``""``, a database without tables. A failed table
    for most tables; zero rows for those that an idle SBC or an HA standby may leave empty."""

    def __init__(self, message: str):
        super().__init__("degenerate_payload", message)

    def __reduce__(self):
        return EmptyAnswer, (str(self),)


_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
ABSENT = frozenset(("n/a", "na", "null", "none", "nil", "-", "--", "?"))  # a value said to be missing


def num(text: str | None) -> float | None:
    """A finite number, or None (absent, empty or not a number: never a false zero). Besides what float()
    reads (``12``, ``-3.5``, ``1.5e3``), forms with one clear meaning seen in other devices' answers:
    thousands separators (``19,750``) and a trailing percent sign (``98%``, the field is in percent)."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        text = text.strip()
        if text.endswith("%"):
            text = text[:-1].rstrip()
        if _THOUSANDS.match(text):
            text = text.replace(",", "")
        try:
            value = float(text)
        except ValueError:
            return None
    return value if value - value == 0 else None  # inf - inf and nan - nan are nan: finite only


def unreadable(text: str | None) -> bool:
    """A value present but not a number ``num`` reads (``true``, ``1,5``, ``12 kB``): counted, not dropped
    silently. Missing markers (``N/A``, ``null``, ``-``) are absent values, not unreadable ones."""
    return text is not None and num(text) is None and text.strip().lower() not in ABSENT


def label(text: str | None, default: str) -> str:
    """A label value: trimmed, bounded in length, ``default`` when empty."""
    text = (text or "").strip()
    return text[:MAX_LABEL_LEN] if text else default
