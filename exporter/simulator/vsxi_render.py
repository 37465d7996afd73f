"""Render simulated answers in the device's wire formats.

XML: the mysqldump family in the old layout (``<table name>``) or the new one (``<table_structure>`` +
``<table_data>``, NULL as ``xsi:nil``), bean lists as child elements. JSON: the org.json conversion of that XML,
with its quirks reproduced on purpose: one child is an object and several a list, an empty element is ``""``,
attributes and text become ``name``/``content``, empty text loses ``content``, numeric text becomes a number.
"""

from __future__ import annotations

import json
import re
from xml.sax.saxutils import escape, quoteattr

from exporter.simulator.vsxi_model import Answer, Row

XSI = "http://www.w3.org/2001/XMLSchema-instance"
_INT = re.compile(r"^-?(0|[1-9]\d*)$")
_FLOAT = re.compile(r"^-?\d+\.\d+$")


def _text(value: object) -> str:
    return "" if value is None else str(value)


def render(answer: Answer, fmt: str, layout: str = "old") -> bytes:
    kind, data = answer
    if fmt == "json":
        doc = _json_mysqldump(data, layout) if kind == "mysqldump" else _json_beans(*data)
        return json.dumps(doc, separators=(",", ":")).encode()
    return _xml_mysqldump(data, layout) if kind == "mysqldump" else _xml_beans(*data)


# --- XML --------------------------------------------------------------------------------------------------


def _xml_fields(row: Row) -> str:
    out = []
    for name, value in row:
        if value is None:
            out.append(f'<field name={quoteattr(name)} xsi:nil="true" />')
        else:
            out.append(f"<field name={quoteattr(name)}>{escape(_text(value))}</field>")
    return "".join(out)


def _xml_mysqldump(tables: list[tuple[str, list[Row]]], layout: str) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', f'<mysqldump xmlns:xsi="{XSI}">\n',
             '<database name="ssdb">\n']
    for name, rows in tables:
        if layout == "new":
            parts.append(f"<table_structure name={quoteattr(name)}>")
            for field, _ in rows[0] if rows else []:
                parts.append(f'<field Field={quoteattr(field)} Type="varchar(64)" Null="YES" />')
            parts.append(f"</table_structure>\n<table_data name={quoteattr(name)}>\n")
        else:
            parts.append(f"<table name={quoteattr(name)}>\n")
        for row in rows:
            parts.append(f"<row>{_xml_fields(row)}</row>\n")
        parts.append("</table_data>\n" if layout == "new" else "</table>\n")
    parts.append("</database>\n</mysqldump>\n")
    return "".join(parts).encode()


def _xml_beans(list_tag: str, item_tag: str, rows: list[Row]) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', f"<{list_tag}>"]
    for row in rows:
        parts.append(f"<{item_tag}>")
        for name, value in row:
            parts.append(f"<{name}>{escape(_text(value))}</{name}>" if value is not None and value != ""
                         else f"<{name}/>")
        parts.append(f"</{item_tag}>")
    parts.append(f"</{list_tag}>")
    return "".join(parts).encode()


# --- JSON (org.json rules) --------------------------------------------------------------------------------


def _value(value: object) -> object:
    """org.json's stringToValue: numeric text becomes a number (leading zeros are lost), the rest stays text."""
    text = _text(value)
    if _INT.match(text) or re.match(r"^-?0\d+$", text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def _one_or_many(items: list) -> object:
    return items[0] if len(items) == 1 else items


def _json_mysqldump(tables: list[tuple[str, list[Row]]], layout: str) -> dict:
    def field(name: str, value: object) -> dict:
        if value is None:
            return {"name": name, "xsi:nil": True}
        if value == "":
            return {"name": name}  # empty text: no "content"
        return {"name": name, "content": _value(value)}

    data, structure = [], []
    for name, rows in tables:
        table: dict = {"name": name}
        if rows:
            table["row"] = _one_or_many([{"field": _one_or_many([field(n, v) for n, v in row])} for row in rows])
        data.append(table)
        if layout == "new":
            structure.append({"name": name, "field": _one_or_many(
                [{"Field": n, "Type": "varchar(64)", "Null": "YES"} for n, _ in (rows[0] if rows else [])]
            ) if rows else ""})
    database: dict = {"name": "ssdb"}
    if layout == "new":
        database["table_structure"] = _one_or_many(structure)
        database["table_data"] = _one_or_many(data)
    else:
        database["table"] = _one_or_many(data)
    return {"mysqldump": {"xmlns:xsi": XSI, "database": database}}


def _json_beans(list_tag: str, item_tag: str, rows: list[Row]) -> dict:
    if not rows:
        return {list_tag: ""}
    items = [{n: ("" if v is None else _value(v)) for n, v in row} for row in rows]
    return {list_tag: {item_tag: _one_or_many(items)}}
