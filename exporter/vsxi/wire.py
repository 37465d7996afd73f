"""The VSXi wire formats, reduced to plain rows.

Two payload families (see ``shared/reference/vsxi-api.md``):

* mysqldump: ``<mysqldump><database><table name="T"><row><field name="F">v</field>`` (old layout) or the same
  with ``<table_data name="T">`` plus ``<table_structure>`` (new layout, NULL as ``xsi:nil="true"``);
* bean lists: ``<XBSubStatsList><XBSubStats><username>..</username>..``.

Both arrive as XML or as the device's org.json conversion of that XML, where one child becomes an object
instead of a list, attributes and text become ``{"name": .., "content": ..}``, empty text loses ``content``
and numeric text becomes a JSON number. Everything here yields rows as ``dict[str, str | None]``: values are
text (ids stay strings, so a trunk id is the same label whatever the format) and None means NULL/empty.

The body is sniffed rather than trusted to match what was asked for: a device that answers XML to a JSON
request is still read, and an HTML proxy page is reported as such. XML is read with ``iterparse`` and rows
are cleared as soon as they are yielded, so 100k registrations never build a tree in memory. Entity
resolution and network access are off.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from io import BytesIO
from typing import Any

from lxml import etree

from exporter.payload import PayloadError, degenerate, invalid

__all__ = ["PayloadError", "Row", "as_list", "iter_beans", "iter_mysqldump", "read_mysqldump"]

Row = dict[str, str | None]

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
TABLE_TAGS = ("table", "table_data")


def _local(tag: Any) -> str:
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


def _sniff(body: bytes) -> str:
    head = body[:512].lstrip()
    if not head:
        raise degenerate("empty body")
    if head[:1] in (b"{", b"["):
        return "json"
    if head[:1] == b"<":
        lowered = head[:200].lower()
        if b"<html" in lowered or b"<!doctype html" in lowered:
            raise degenerate("HTML page instead of stats (proxy or login page?)")
        return "xml"
    raise invalid(f"neither XML nor JSON (starts with {head[:20]!r})")


def _iterparse(body: bytes) -> etree.iterparse:
    return etree.iterparse(
        BytesIO(body),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def _xml_errors(gen: Iterator) -> Iterator:
    """Turn lxml's syntax errors (truncated body, bad markup) into PayloadError."""
    try:
        yield from gen
    except etree.XMLSyntaxError as exc:
        raise invalid(f"malformed XML: {exc.msg}") from None


def _text(el: etree._Element) -> str | None:
    if el.get(XSI_NIL) == "true":
        return None
    text = el.text
    if text is None:
        return None
    text = text.strip()
    return text if text else None


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = str(value).strip()
    return text if text else None


def as_list(value: Any) -> list:
    """org.json gives one child as an object, several as a list, none as a missing key or ``""``."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _load_json(body: bytes) -> Any:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise invalid(f"malformed JSON: {exc}") from None
    if doc == {}:
        raise degenerate("empty JSON object {} (the device sends it during HA failover)")
    if not isinstance(doc, dict):
        raise invalid(f"expected a JSON object at the top level, got {type(doc).__name__}")
    return doc


# --- mysqldump family -------------------------------------------------------------------------------------


def iter_mysqldump(body: bytes) -> Iterator[tuple[str, Row | None]]:
    """Yield ``(table, row)`` for every row of every table, and ``(table, None)`` once per table (so that an
    empty table is distinguishable from a missing one). Raises PayloadError on a degenerate body."""
    if _sniff(body) == "json":
        yield from _json_mysqldump(_load_json(body))
    else:
        yield from _xml_errors(_xml_mysqldump(body))


def _xml_mysqldump(body: bytes) -> Iterator[tuple[str, Row | None]]:
    root = None
    table: str | None = None
    tables = 0
    for event, el in _iterparse(body):
        tag = _local(el.tag)
        if event == "start":
            if root is None:
                root = el
                if tag != "mysqldump":
                    raise degenerate(f"unexpected root element <{tag}>, expected <mysqldump>")
            elif tag in TABLE_TAGS:
                table = el.get("name") or ""
                tables += 1
                yield table, None
            continue
        if tag == "row" and table is not None:
            yield table, {f.get("name") or "": _text(f) for f in el if _local(f.tag) == "field"}
            el.clear()
        elif tag in TABLE_TAGS:
            table = None
            el.clear()
        elif tag == "table_structure":
            el.clear()  # column definitions: a hint at most, never data
    if tables == 0:
        raise degenerate("empty database: the response holds no table")


def _json_mysqldump(doc: dict) -> Iterator[tuple[str, Row | None]]:
    dump = doc.get("mysqldump")
    if not isinstance(dump, dict):
        raise degenerate(f"unexpected JSON object with keys {sorted(doc)[:5]}, expected mysqldump")
    tables = 0
    for database in as_list(dump.get("database")):
        if not isinstance(database, dict):
            continue
        for key in TABLE_TAGS:
            for table in as_list(database.get(key)):
                if not isinstance(table, dict):
                    continue
                name = _json_text(table.get("name")) or ""
                tables += 1
                yield name, None
                for row in as_list(table.get("row")):
                    if isinstance(row, dict):
                        yield name, _json_fields(row.get("field"))
    if tables == 0:
        raise degenerate("empty database: the response holds no table")


def _json_fields(fields: Any) -> Row:
    row: Row = {}
    for f in as_list(fields):
        if isinstance(f, dict):
            nil = f.get("xsi:nil") in ("true", True)
            row[_json_text(f.get("name")) or ""] = None if nil else _json_text(f.get("content"))
    return row


def read_mysqldump(body: bytes) -> dict[str, list[Row]]:
    """All tables of a (small) mysqldump answer, by table name."""
    tables: dict[str, list[Row]] = {}
    for name, row in iter_mysqldump(body):
        rows = tables.setdefault(name, [])
        if row is not None:
            rows.append(row)
    return tables


# --- bean-list family -------------------------------------------------------------------------------------


def iter_beans(body: bytes, list_tag: str) -> Iterator[Row]:
    """Yield one row per bean of ``<list_tag><Item>..</Item>..</list_tag>``; an empty list yields nothing.
    Any item element name is accepted: only the list element is checked."""
    if _sniff(body) == "json":
        yield from _json_beans(_load_json(body), list_tag)
    else:
        yield from _xml_errors(_xml_beans(body, list_tag))


def _first_child_tag(body: bytes, list_tag: str) -> str | None:
    """Check the root element and return the first item's tag (None for an empty list)."""
    depth = 0
    for event, el in _iterparse(body):
        if event == "end":
            return None  # the root closed (or its first child was empty): no item
        depth += 1
        tag = _local(el.tag)
        if depth == 1 and tag != list_tag:
            hint = " (empty database)" if tag == "mysqldump" else ""
            raise degenerate(f"unexpected root element <{tag}>{hint}, expected <{list_tag}>")
        if depth == 2:
            return el.tag
    return None


def _xml_beans(body: bytes, list_tag: str) -> Iterator[Row]:
    # Two passes over the start of the body are cheaper than tracking depth on every element: with the item
    # tag known, lxml filters in C and Python only sees one event per row (2x faster on 100k rows). A list
    # mixing item tags (never seen) would only yield the first kind.
    item = _first_child_tag(body, list_tag)
    if item is None:
        # Still read to the end, so a truncated empty list is reported as malformed.
        for _ in _iterparse(body):
            pass
        return
    for _, el in etree.iterparse(BytesIO(body), events=("end",), tag=item, resolve_entities=False,
                                 no_network=True, load_dtd=False, huge_tree=False):
        # The hot loop of 100k-row answers: no attribute lookup (an xsi:nil element has no text anyway).
        row: Row = {}
        for f in el:
            tag = f.tag
            if not isinstance(tag, str):
                continue
            if tag[0] == "{":
                tag = tag.rsplit("}", 1)[1]
            text = f.text
            row[tag] = (text.strip() or None) if text else None
        yield row
        el.clear(keep_tail=False)
        parent = el.getparent()
        # Drop the already-yielded siblings too, so memory stays flat on 100k rows.
        while el.getprevious() is not None:
            del parent[0]


def _json_beans(doc: dict, list_tag: str) -> Iterator[Row]:
    if list_tag not in doc:
        hint = " (empty database)" if "mysqldump" in doc else ""
        raise degenerate(f"unexpected JSON object with keys {sorted(doc)[:5]}{hint}, expected {list_tag}")
    inner = doc[list_tag]
    if inner in (None, "", {}):
        return
    if not isinstance(inner, dict):
        raise invalid(f"{list_tag}: expected an object, got {type(inner).__name__}")
    for items in inner.values():
        for item in as_list(items):
            if isinstance(item, dict):
                yield {k: _json_text(v) for k, v in item.items()}
