"""The VSXi wire formats, reduced to plain rows.

Two payload families (see ``docs/device-apis.md``):

* mysqldump: ``<mysqldump><database><table name="T"><row><field name="F">v</field>`` (old layout) or the same
  with ``<table_data name="T">`` plus ``<table_structure>`` (new layout, NULL as ``xsi:nil="true"``);
* bean lists: ``<XBSubStatsList><XBSubStats><username>..</username>..``.

Both arrive as XML or as the device's org.json conversion of that XML, where one child becomes an object
instead of a list, attributes and text become ``{"name": .., "content": ..}``, empty text loses ``content``
and numeric text becomes a JSON number. Everything here yields rows as ``dict[str, str | None]``: values are
text (ids stay strings, so a trunk id is the same label whatever the format) and None means NULL/empty.

The body is sniffed rather than trusted to match what was asked for: a device that answers XML to a JSON
request is still read, and an HTML proxy page is reported as such. Entity resolution and network access are
off on both XML paths:

* up to ``FAST_PATH_MAX_BYTES`` (every answer of a normal SBC), one ``lxml`` tree built in C and walked with
  C-side tag filters: ~5x cheaper than iterparse, whose per-event Python work the fleet profile showed as
  60% of the exporter's CPU;
* above it, ``iterparse`` with rows cleared as soon as they are yielded, so 100k registrations never build a
  tree in memory. Such answers arrive as a ``BodyStream`` (exporter.bodystream): read in one pass as the
  chunks come off the socket, in a worker process (exporter.polling.workerpool); what the readers need to
  know before that pass (the root, the first item's tag, the JSON path of the items) comes from the first
  bytes (``BodyStream.head``).

Both paths yield the same rows for every variant the fixtures cover (tests/test_parsers.py checks it).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import ijson
from lxml import etree

from exporter.bodystream import BodyStream
from exporter.payload import EmptyAnswer, PayloadError, degenerate, invalid

__all__ = ["PayloadError", "Row", "as_list", "iter_beans", "iter_mysqldump", "read_mysqldump"]

Row = dict[str, str | None]
Body = bytes | BodyStream

XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
TABLE_TAGS = ("table", "table_data")
FAST_PATH_MAX_BYTES = 1 << 20  # a tree costs ~10x its body in memory: above this, stream
_ANY_TABLE = ("{*}table", "{*}table_data")
_local_parser = threading.local()  # lxml parsers must not be shared between threads


def _parser() -> etree.XMLParser:
    parser = getattr(_local_parser, "parser", None)
    if parser is None:
        parser = _local_parser.parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True,
            remove_pis=True)
    return parser


def _tree(body: bytes) -> etree._Element:
    try:
        return etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise invalid(f"malformed XML: {exc.msg}") from None


def _local(tag: Any) -> str:
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1]


UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _utf16(head: bytes) -> bool:
    return head[:2] in UTF16_BOMS


def _sniff(body: bytes) -> str:
    """"xml" or "json", from the first bytes; a byte-order mark (UTF-8, or UTF-16 which lxml and json both
    read) is not content."""
    head = body[:512]
    if head.startswith(UTF8_BOM):
        head = head[3:]
    elif _utf16(head):
        head = head.decode("utf-16", "ignore").encode()
    head = head.lstrip()
    if not head:
        raise EmptyAnswer("empty body")
    if head[:1] in (b"{", b"[", b"\""):  # "" is JSON too (an empty answer)
        return "json"
    if head[:1] == b"<":
        lowered = head[:200].lower()
        if b"<html" in lowered or b"<!doctype html" in lowered:
            raise degenerate("HTML page instead of stats (proxy or login page?)")
        return "xml"
    raise invalid(f"neither XML nor JSON (starts with {head[:20]!r})")


_SAFE = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}


def _iterparse(source: BytesIO | BodyStream) -> etree.iterparse:
    return etree.iterparse(source, events=("start", "end"), remove_comments=True, remove_pis=True, **_SAFE)


def _head(body: Body) -> bytes:
    return body.head if isinstance(body, BodyStream) else body


def _streamed(body: Body, stream: bool | None) -> bool:
    """The streaming readers for a stream, when forced (tests), or for a body too large for a tree."""
    return isinstance(body, BodyStream) or bool(stream) or (stream is None and len(body) > FAST_PATH_MAX_BYTES)


def _source(body: Body) -> BytesIO | BodyStream:
    return body if isinstance(body, BodyStream) else BytesIO(body)


def _whole(body: Body) -> bytes:
    return body.read() if isinstance(body, BodyStream) else body


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
    kind = type(value)
    if kind is str:  # the common cases first: this runs once per field
        return value.strip() or None
    if kind is int:
        return str(value)
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
    if body.startswith(UTF8_BOM):  # json.loads reads UTF-16 and -32 by their BOM, but refuses UTF-8's
        body = body[3:]
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise invalid(f"malformed JSON: {exc}") from None
    if doc == {}:
        raise EmptyAnswer("empty JSON object {} (the device sends it during HA failover)")
    if doc == "":
        raise EmptyAnswer('empty JSON string ""')
    if not isinstance(doc, dict):
        raise invalid(f"expected a JSON object at the top level, got {type(doc).__name__}")
    return doc


# --- mysqldump family -------------------------------------------------------------------------------------


def iter_mysqldump(body: Body, stream: bool | None = None) -> Iterator[tuple[str, Row | None]]:
    """Yield ``(table, row)`` for every row of every table, and ``(table, None)`` once per table (so that an
    empty table is distinguishable from a missing one). Raises PayloadError on a degenerate body.
    ``stream`` forces one XML path (tests); by default the size decides."""
    if _sniff(_head(body)) == "json":
        # Never large (a few tables of counters): one document, even when it came as a stream.
        yield from _json_mysqldump(_load_json(_whole(body)))
    elif _streamed(body, stream):
        yield from _xml_errors(_xml_mysqldump(_source(body)))
    else:
        yield from _tree_mysqldump(_tree(body), b":nil" in body or _utf16(body))


def _tree_mysqldump(root: etree._Element, has_nil: bool) -> Iterator[tuple[str, Row | None]]:
    tag = _local(root.tag)
    if tag != "mysqldump":
        raise degenerate(f"unexpected root element <{tag}>, expected <mysqldump>")
    tables = 0
    for table in root.iter(_ANY_TABLE):
        name = table.get("name") or ""
        tables += 1
        yield name, None
        for row in table.iter("{*}row"):
            values: Row = {}
            for f in row.iterchildren("{*}field"):
                text = f.text
                if text is not None:
                    text = text.strip() or None
                    if has_nil and text is not None and f.get(XSI_NIL) == "true":
                        text = None
                values[f.get("name") or ""] = text
            yield name, values
    if tables == 0:
        raise EmptyAnswer("empty database: the response holds no table")


def _xml_mysqldump(source: BytesIO | BodyStream) -> Iterator[tuple[str, Row | None]]:
    root = None
    table: str | None = None
    tables = 0
    for event, el in _iterparse(source):
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
        raise EmptyAnswer("empty database: the response holds no table")


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
        raise EmptyAnswer("empty database: the response holds no table")


def _json_fields(fields: Any) -> Row:
    """``_json_text`` of each field's name and content, its string case inlined: this runs once per field of
    every mysqldump row (~17% faster than calling it, measured on the fleet benchmark's JSON answers)."""
    row: Row = {}
    for f in fields if type(fields) is list else as_list(fields):
        if isinstance(f, dict):
            name = f.get("name")
            name = name.strip() if type(name) is str else _json_text(name) or ""
            if f.get("xsi:nil") in ("true", True):
                row[name] = None
            else:
                value = f.get("content")
                row[name] = (value.strip() or None) if type(value) is str else _json_text(value)
    return row


def read_mysqldump(body: Body, stream: bool | None = None) -> dict[str, list[Row]]:
    """All tables of a (small) mysqldump answer, by table name."""
    tables: dict[str, list[Row]] = {}
    for name, row in iter_mysqldump(body, stream):
        rows = tables.setdefault(name, [])
        if row is not None:
            rows.append(row)
    return tables


# --- bean-list family -------------------------------------------------------------------------------------


def iter_beans(body: Body, list_tag: str, stream: bool | None = None) -> Iterator[Row]:
    """Yield one row per bean of ``<list_tag><Item>..</Item>..</list_tag>``; an empty list yields nothing.
    Any item element name is accepted: only the list element is checked. ``stream`` as for iter_mysqldump."""
    if _sniff(_head(body)) == "json":
        for item in _json_items(body, list_tag, stream):
            yield {k: (v.strip() or None) if type(v) is str else _json_text(v) for k, v in item.items()}
    elif _streamed(body, stream):
        yield from _xml_errors(_xml_beans(body, list_tag))
    else:
        yield from _tree_beans(_tree(body), list_tag)


def _check_bean_root(tag: str, list_tag: str) -> None:
    if tag != list_tag:
        hint = " (empty database)" if tag == "mysqldump" else ""
        raise degenerate(f"unexpected root element <{tag}>{hint}, expected <{list_tag}>")


def _tree_beans(root: etree._Element, list_tag: str) -> Iterator[Row]:
    _check_bean_root(_local(root.tag), list_tag)
    item = None
    for el in root.iterchildren(etree.Element):
        item = el.tag
        break
    if item is None:
        return
    for el in root.iter(item):  # as the streaming path: items of the first item's tag, at any depth
        row: Row = {}
        for f in el.iterchildren(etree.Element):
            tag = f.tag
            if tag[0] == "{":
                tag = tag.rsplit("}", 1)[1]
            text = f.text
            row[tag] = (text.strip() or None) if text else None
        yield row


def _first_child_tag(head: bytes, list_tag: str, complete: bool) -> str | None:
    """Check the root element and return the first item's tag (None for an empty list), from the first
    bytes of the body (all of it when ``complete``)."""
    parser = etree.XMLPullParser(events=("start", "end"), remove_comments=True, remove_pis=True, **_SAFE)
    depth = 0
    for i in range(0, len(head), 1 << 14):
        parser.feed(head[i:i + (1 << 14)])
        for event, el in parser.read_events():
            if event == "end":
                return None  # the root closed (or its first child was empty): no item
            depth += 1
            if depth == 1:
                _check_bean_root(_local(el.tag), list_tag)
            if depth == 2:
                return el.tag
    if complete:
        parser.close()  # a truncated document raises here
        return None
    raise invalid(f"no <{list_tag}> item within the first {len(head)} bytes")


def _xml_beans(body: Body, list_tag: str) -> Iterator[Row]:
    # The item tag comes from the first bytes, so that lxml filters in C and Python sees one event per row
    # (2x faster on 100k rows than tracking depth on every element). A list mixing item tags (never seen)
    # would only yield the first kind.
    item = _first_child_tag(_head(body), list_tag, complete=not isinstance(body, BodyStream))
    source = _source(body)
    if item is None:
        # Still read to the end, so a truncated empty list is reported as malformed.
        for _ in _iterparse(source):
            pass
        return
    for _, el in etree.iterparse(source, events=("end",), tag=item, **_SAFE):
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


def iter_bean_columns(body: Body, list_tag: str, columns: tuple[str, ...], names: set[str],
                      stream: bool | None = None) -> Iterator[tuple[str | None, ...]]:
    """Rows of a bean list projected on ``columns`` (text as ``iter_beans`` gives it, None when absent or
    empty); every field name seen is added to ``names``.

    For the big bean lists (registrations, calls) only a few fields count, so a regular XML tree is read by
    column, each column one XPath in C (no Python object per field: ~90 us per column for 200 rows, against
    ~2 ms for a walk of every field). "Regular": every child of the list is an item of the first item's tag,
    each item holds each column once with one text node, and every item has as many fields as the first.
    Field names then come from the first and last items (a firmware change renames fields in every row).
    Anything else takes the general row path, which reads every field of every row."""
    kind = _sniff(_head(body))
    if kind == "xml" and not _streamed(body, stream):
        root = _tree(body)
        _check_bean_root(_local(root.tag), list_tag)
        # A DTD could declare entities, whose unexpanded references split a field's text in two nodes
        # (and in UTF-16, a DOCTYPE is not found by its bytes).
        result = _tree_columns(root, columns, names) if b"<!DOCTYPE" not in body and not _utf16(body) else None
        if result is not None:
            yield from result
            return
        rows = _tree_beans(root, list_tag)
    elif kind == "json":
        # Only the wanted fields are converted; the names of all are kept.
        wanted = None
        for item in _json_items(body, list_tag, stream):
            names.update(item)
            if wanted is None:
                wanted = _resolve(columns, item)
            values = [item.get(c) for c in wanted]
            if None in values and not all(c in item for c in wanted):  # this row spells a field otherwise
                values = [item.get(c) for c in _resolve(columns, item)]
            yield tuple([_json_text(v) for v in values])
        return
    else:
        rows = iter_beans(body, list_tag, stream)
    wanted = None
    for row in rows:
        names.update(row)
        if wanted is None:
            wanted = _resolve(columns, row)
        values = tuple([row.get(c) for c in wanted])
        if None in values and not all(c in row for c in wanted):  # this row spells a field otherwise
            values = tuple([row.get(c) for c in _resolve(columns, row)])
        yield values


def _resolve(columns: tuple[str, ...], names) -> tuple[str, ...]:
    """Each wanted column as this answer spells it: field names match case-insensitively (``TrunkId`` is
    ``trunkId``; the reference never tells two fields apart by case). Taken from the first row, and again for
    a row that lacks one of them as the first row spells it (``States`` there, ``states`` here)."""
    if all(c in names for c in columns):
        return columns
    lower = {n.lower(): n for n in names}
    return tuple(c if c in names else lower.get(c.lower(), c) for c in columns)


_XPATHS: dict[str, etree.XPath] = {}
_XML_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def _xpath(expr: str) -> etree.XPath:
    path = _XPATHS.get(expr)
    if path is None:
        if len(_XPATHS) > 256:  # item tags come from the device: bound the cache
            _XPATHS.clear()
        path = _XPATHS[expr] = etree.XPath(expr, smart_strings=False)
    return path


def _tree_columns(root: etree._Element, columns: tuple[str, ...], names: set[str]) -> list | None:
    first = next(root.iterchildren(etree.Element), None)
    if first is None:
        return []
    item = first.tag
    if not isinstance(item, str) or item[0] == "{" or not _XML_NAME.match(item) \
            or not all(_XML_NAME.match(c) for c in columns):
        return None  # namespaced or odd names: not worth an XPath
    n = int(_xpath(f"count({item})")(root))
    if n != int(_xpath("count(*)")(root)):
        return None
    first_names = [f.tag for f in first.iterchildren(etree.Element)]
    last = root[len(root) - 1]
    last_names = [f.tag for f in last.iterchildren(etree.Element)]
    if len(last_names) != len(first_names) or int(_xpath(f"count({item}/*)")(root)) != n * len(first_names) \
            or any(not isinstance(t, str) or t[0] == "{" for t in first_names + last_names):
        return None
    columns = _resolve(columns, first_names)
    if not all(_XML_NAME.match(c) for c in columns):
        return None
    values = []
    for column in columns:
        texts = _xpath(f"{item}/{column}/text()")(root)
        if len(texts) == n:
            values.append([t.strip() or None for t in texts])
            continue
        elements = _xpath(f"{item}/{column}")(root)
        if len(elements) != n or len(texts) > n:
            return None  # a column missing from some rows, repeated, or holding several text nodes
        values.append([(e.text.strip() or None) if e.text else None for e in elements])
    names.update(first_names)
    names.update(last_names)
    return list(zip(*values, strict=True)) if values else [()] * n


def _json_items(body: Body, list_tag: str, stream: bool | None) -> Iterator[dict]:
    if _streamed(body, stream):
        return _json_stream_items(body, list_tag)
    return _json_bean_items(_load_json(body), list_tag)


def _json_stream_items(body: Body, list_tag: str) -> Iterator[dict]:
    """The items of a large JSON bean list, one at a time (ijson's C backend): 100k registrations (33 MB)
    hold ~0.5 MB at once instead of json.loads' ~150 MB, for ~1.5x its CPU. Only the list's first key is
    read (a bean list has one kind of item); the start of the document is checked as ``_load_json`` does,
    from the first bytes, and then the whole is read in one pass."""
    head = _head(body)
    bom = head.startswith(UTF8_BOM)
    path = _json_items_path(head[3:] if bom else head, list_tag, complete=not isinstance(body, BodyStream))
    if path is None:
        return
    source = _source(body)
    if bom:
        source.read(3)
    try:
        for item in ijson.items(source, path, use_float=True):
            if isinstance(item, dict):
                yield item
    except ijson.JSONError as exc:
        raise invalid(f"malformed JSON: {str(exc)[:200]}") from None


def _json_items_path(head: bytes, list_tag: str, complete: bool) -> str | None:
    """The ijson path of the items, or None for an empty list."""
    try:
        events = ijson.parse(BytesIO(head), use_float=True)
        prefix, event, value = next(events)
        if event == "string" and value == "":
            raise EmptyAnswer('empty JSON string ""')
        if event != "start_map":
            raise invalid(f"expected a JSON object at the top level, got {_JSON_KINDS.get(event, event)}")
        keys: list[str] = []
        for prefix, event, value in events:
            if prefix == "" and event == "map_key":
                keys.append(value)
            elif prefix == "" and event == "end_map":
                if not keys:
                    raise EmptyAnswer("empty JSON object {} (the device sends it during HA failover)")
                hint = " (empty database)" if "mysqldump" in keys else ""
                raise degenerate(f"unexpected JSON object with keys {sorted(keys)[:5]}{hint}, expected {list_tag}")
            elif prefix == list_tag:
                if event in ("string", "null") or event == "end_map":
                    return None  # "" or null or {}: an empty list
                if event == "map_key":
                    key = value
                    _, kind, _ = next(events)
                    path = f"{list_tag}.{key}" + (".item" if kind == "start_array" else "")
                    if kind not in ("start_array", "start_map"):
                        return None
                    return path
                if event != "start_map":
                    raise invalid(f"{list_tag}: expected an object, got {_JSON_KINDS.get(event, event)}")
    except ijson.IncompleteJSONError as exc:
        if not complete:
            raise invalid(f"no {list_tag} item within the first {len(head)} bytes") from None
        raise invalid(f"malformed JSON: {str(exc)[:200]}") from None
    except ijson.JSONError as exc:
        raise invalid(f"malformed JSON: {str(exc)[:200]}") from None
    return None


_JSON_KINDS = {"start_array": "list", "string": "str", "number": "float", "integer": "int", "boolean": "bool",
               "null": "NoneType"}


def _json_bean_items(doc: dict, list_tag: str) -> Iterator[dict]:
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
                yield item
