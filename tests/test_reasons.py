"""The `reason` label: common reasons in neutral words, a family's own declared with it, one HTTP mapping."""

from __future__ import annotations

import ast
import pathlib

import pytest

from exporter.devicefamily import Family
from exporter.reasons import COMMON, family_reasons, http_reason
from exporter.registry import FAMILIES

ROOT = pathlib.Path(__file__).resolve().parent.parent / "exporter"
ERRORS = ("FetchError", "PayloadError")


def raised_reasons(path: pathlib.Path) -> set[str]:
    """Every reason the module can give a FetchError or PayloadError: the string constants of the first
    argument (a literal, or each branch of a conditional expression), and of names assigned such constants
    where the argument is a name."""
    tree = ast.parse(path.read_text())
    assigned: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            consts = {c.value for c in ast.walk(node.value) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
            for target in node.targets:
                if isinstance(target, ast.Name):
                    assigned.setdefault(target.id, set()).update(consts)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ERRORS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Name):
                found |= {v for v in assigned.get(first.id, set()) if v.islower() and " " not in v}
            else:
                found |= {c.value for c in ast.walk(first) if isinstance(c, ast.Constant) and isinstance(c.value, str)}
    return found


def test_shared_code_raises_common_reasons_only():
    families = {f.name for f in FAMILIES.values()}
    for path in ROOT.rglob("*.py"):
        if path.relative_to(ROOT).parts[0] in families or "simulator" in path.parts:
            continue
        unknown = raised_reasons(path) - set(COMMON)
        assert not unknown, f"{path}: {unknown} (a family's reason belongs in its Family.reasons)"


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_familys_code_raises_common_reasons_or_its_own(name):
    family = FAMILIES[name]
    raised = set()
    for path in (ROOT / name).rglob("*.py"):
        raised |= raised_reasons(path)
    assert raised, "the scan found nothing: it would pass anything"
    assert raised <= set(COMMON) | set(family.reasons), raised - set(COMMON) - set(family.reasons)
    assert set(family_reasons(family.reasons)) <= raised, "a declared reason nothing raises"


def test_the_scan_sees_literals_conditionals_and_names(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('reason = "auth_x" if s else "auth_y"\nraise FetchError("a_b", "x")\n'
                      'raise PayloadError("c" if s else "d", "y")\nraise FetchError(reason, f"{s}")\n')
    assert raised_reasons(module) == {"a_b", "c", "d", "auth_x", "auth_y"}


def test_a_family_with_a_reason_that_is_not_a_token_or_has_no_text_is_not_built():
    base = FAMILIES["vsxi"]
    fields = {k: getattr(base, k) for k in ("name", "title", "device_noun", "check_target",
                                             "collectors", "poller", "catalog", "status")}
    with pytest.raises(ValueError, match="reason 'Bad Reason' is not a short lower-case token"):
        Family(**fields, reasons={"Bad Reason": "text"})
    with pytest.raises(ValueError, match="reason 'quiet' has no text"):
        Family(**fields, reasons={"quiet": " "})


@pytest.mark.parametrize("status,reason", [(400, "http_400"), (401, "http_401"), (403, "http_4xx"),
                                           (404, "http_4xx"), (429, "http_429"), (500, "http_5xx"),
                                           (503, "http_5xx"), (301, "http_other"), (204, "http_other")])
def test_one_mapping_from_http_status_to_reason(status, reason):
    assert http_reason(status) == reason and reason in COMMON
