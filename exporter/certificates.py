"""The expiry of the certificate a device presented, read from its DER bytes.

A device's certificate is read whether or not it is verified (``insecure_skip_verify``): the TLS connection
hands it over either way (``SSLObject.getpeercert(binary_form=True)``). Only the one field is needed, so a few
lines of DER walking stand in for an X.509 library: Certificate ::= SEQUENCE { tbsCertificate SEQUENCE {
[0] version OPTIONAL, serialNumber, signature, issuer, validity SEQUENCE { notBefore, notAfter }, ... }, ... }.
"""

from __future__ import annotations

from datetime import UTC, datetime

_SEQUENCE, _UTC_TIME, _GENERALIZED_TIME, _EXPLICIT_0 = 0x30, 0x17, 0x18, 0xA0


def _children(der: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """(tag, content start, content end) of each DER element between ``start`` and ``end``."""
    out = []
    i = start
    while i < end:
        tag, first = der[i], der[i + 1]
        if first < 0x80:
            length, head = first, 2
        else:
            n = first & 0x7F
            if not 0 < n <= 4:
                raise ValueError("DER length")
            length, head = int.from_bytes(der[i + 2:i + 2 + n], "big"), 2 + n
        content = i + head
        if content + length > end:
            raise ValueError("DER element past its parent")
        out.append((tag, content, content + length))
        i = content + length
    return out


def _time(tag: int, text: str) -> float:
    if tag == _UTC_TIME:  # YYMMDDHHMMSSZ; years 50-99 are 19xx (RFC 5280)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != _GENERALIZED_TIME:
        raise ValueError("not a time")
    return datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=UTC).timestamp()


def not_after(der: bytes) -> float | None:
    """The certificate's notAfter as Unix time; None when ``der`` is not a certificate this can read."""
    try:
        (tag, start, end), = _children(der, 0, len(der))[:1]
        if tag != _SEQUENCE:
            return None
        tbs = _children(der, start, end)[0]
        fields = _children(der, tbs[1], tbs[2])
        if fields and fields[0][0] == _EXPLICIT_0:
            fields = fields[1:]
        validity = fields[3]
        if validity[0] != _SEQUENCE:
            return None
        (_, _, _), (tag, start, end) = _children(der, validity[1], validity[2])[:2]
        return _time(tag, der[start:end].decode("ascii"))
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
