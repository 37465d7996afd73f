"""logfmt and JSON logging, as Prometheus exporters do (``--log.level``, ``--log.format``).

Structured fields go in ``extra={"fields": {...}}``; ``log(logger, level, msg, **fields)`` is the short form.
Nothing logs a password, a token or a response body: the callers only pass names, reasons and sizes.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warn": logging.WARNING, "error": logging.ERROR}
_LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error",
                logging.CRITICAL: "error"}


def _ts(record: logging.LogRecord) -> str:
    t = time.gmtime(record.created)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{int(record.msecs):03d}Z"


def _fields(record: logging.LogRecord) -> dict:
    fields = {"ts": _ts(record), "level": _LEVEL_NAMES.get(record.levelno, "info"), "logger": record.name,
              "msg": record.getMessage()}
    fields.update(getattr(record, "fields", {}) or {})
    if record.exc_info:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    return fields


# Characters a value must not carry as they are: a device's error text is logged, and a carriage return, an
# ESC sequence or a line separator in it would write a fake line (or recolour the terminal) otherwise.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_control(match: re.Match) -> str:
    c = match.group(0)
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def _logfmt_value(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\\') or _CONTROL.search(text):
        text = '"' + _CONTROL.sub(_escape_control, text.replace("\\", "\\\\").replace('"', '\\"')) + '"'
    return text


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _fields(record).items())


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        # ensure_ascii escapes C0 controls and everything past ASCII (C1, line separators); DEL is escaped too.
        return json.dumps(_fields(record), default=str).replace("\x7f", "\\u007f")


def setup(level: str = "info", fmt: str = "logfmt") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def log(logger: logging.Logger, level: int, msg: str, **fields: object) -> None:
    logger.log(level, msg, extra={"fields": fields})
