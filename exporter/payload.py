"""What every parser shares: the error for an answer that cannot be trusted, and value normalisation."""

from __future__ import annotations

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


def num(text: str | None) -> float | None:
    """A finite number, or None (absent, empty or not a number: never a false zero)."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value - value == 0 else None  # inf - inf and nan - nan are nan: finite only


def label(text: str | None, default: str) -> str:
    """A label value: trimmed, bounded in length, ``default`` when empty."""
    text = (text or "").strip()
    return text[:MAX_LABEL_LEN] if text else default
