"""What a family's monitoring is made of: the record it hands the mixin (``Monitoring``) and the building
blocks of its rules and dashboards (plain dicts of Prometheus' rule files and Grafana's JSON model).

A family package's ``monitoring/`` uses these; ``mixin.rules`` and ``mixin.dashboards`` assemble what every
registered family hands over with what is common to all (the exporter's health, collector and site alerts).
Dashboard conventions, checked by tests/test_mixin.py: a ``datasource`` variable and no hard-coded datasource;
``job`` then ``target`` variables, chained (each query filters on the previous), then domain variables (trunk,
queue); ``$__rate_interval`` in every rate(); a unit on every panel; stable uids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mixin.config import RUNBOOK_URL, SITE_LABEL

if TYPE_CHECKING:
    from exporter.polling.status import StatusSpecs

Rule = dict  # one rule of a Prometheus rule group (record or alert), as written to YAML
Dashboard = dict  # Grafana's JSON model


@dataclass(frozen=True)
class Monitoring:
    """A family's share of the monitoring bundle (``Family.monitoring`` gives it; ``python -m mixin`` writes
    it out with the rest)."""

    recording_rules: Callable[[], list[Rule]]
    alerts: Callable[[], list[Rule]]
    dashboards: Callable[[], list[Dashboard]]
    runbook: Path  # Markdown: one "## <alert name, lower case>" section per alert of ``alerts``
    # Panels of its own on the exporter-health dashboard, after the common collector panels (its extras:
    # facts its collectors report, self-metrics only it has).
    health_panels: Callable[[Layout], None] = lambda layout: None
    # Exported metrics no panel or rule shows, and why (tests/test_mixin.py: every other one is shown).
    not_shown: Mapping[str, str] = field(default_factory=dict)


# --- rules ---

def ratio(num: str, den: str, by: str) -> str:
    """sum(numerator) / sum(denominator) with empty denominators filtered out: no NaN, no +Inf."""
    return f"sum by ({by}) ({num})\n/\n(sum by ({by}) ({den}) > 0)"


def alert(name: str, expr: str, for_: str, severity: str, component: str, summary: str,
          description: str) -> Rule:
    """An alert named ``VsxiXivo<name>``, with ``severity`` (critical, warning, info) and ``component`` (exporter,
    site, sbc, pbx, trunk, collector, media, queue, certificate) for the example Alertmanager config to inhibit
    on, and its runbook section's address."""
    rule = {"alert": f"VsxiXivo{name}", "expr": expr}
    if for_ != "0m":
        rule["for"] = for_
    rule["labels"] = {"severity": severity, "component": component}
    rule["annotations"] = {"summary": summary, "description": description,
                           "runbook_url": f"{RUNBOOK_URL}#{rule['alert'].lower()}"}
    return rule


SITE_OF = f"group by (job, target, {SITE_LABEL}) (vsxi_xivo_target_info)"


def down(status: StatusSpecs) -> str:
    """A family's targets that are down: ``up`` 0, its HA standby nodes left out (they refuse polls by design)."""
    if status.standby is None:
        return f"{status.up.name} == 0"
    return f"{status.up.name} == 0 unless on (job, target) {status.standby.name} == 1"


def with_site(down_expr: str) -> str:
    """``down_expr`` (series with job and target) carrying the target's site label from vsxi_xivo_target_info,
    and as it is where that series is missing (an older exporter)."""
    return (f"(\n  ({down_expr})\n  * on (job, target) group_left ({SITE_LABEL})\n  {SITE_OF}\n)\n"
            f"or on (job, target)\n({down_expr})")


# --- dashboards ---

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job=~"$job", target=~"$target"'
# On the exporter-health dashboard: the exporter's own series, and its series per target.
HEALTH_SEL = 'job=~"$job", instance=~"$instance"'
HEALTH_TARGET_SEL = f'{HEALTH_SEL}, target=~"$target"'


def _var_datasource() -> dict:
    return {"name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
            "current": {}, "hide": 0, "refresh": 1, "options": [], "regex": ""}


def var(name: str, label: str, query_: str, multi: bool = True, include_all: bool = True) -> dict:
    """A dashboard variable filled by a query (label_values(...))."""
    return {"name": name, "label": label, "type": "query", "datasource": DS,
            "query": {"query": query_, "refId": f"{name}-var"}, "definition": query_, "refresh": 2,
            "multi": multi, "includeAll": include_all, "allValue": ".+" if include_all else None,
            "current": {}, "hide": 0, "options": [], "regex": "", "sort": 1}


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False) -> dict:
    """One PromQL query of a panel (Grafana calls it a target)."""
    return {"datasource": DS, "expr": expr, "legendFormat": legend or "__auto", "refId": ref,
            "range": not instant, "instant": instant}


class Layout:
    """Places panels left to right, 24 columns wide, wrapping to new rows."""

    def __init__(self) -> None:
        self.x = self.y = self.row_h = 0
        self.next_id = 1
        self.panels: list[dict] = []

    def row(self, title: str) -> None:
        if self.x:
            self.y += self.row_h
        self.panels.append({"type": "row", "title": title, "id": self.next_id, "collapsed": False,
                            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": []})
        self.next_id += 1
        self.y += 1
        self.x = self.row_h = 0

    def add(self, kind: str, title: str, targets: list[dict], unit: str, w: int = 12, h: int = 8,
            description: str = "", min_: float | None = None, max_: float | None = None, **options) -> None:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        defaults: dict = {"unit": unit}
        if min_ is not None:
            defaults["min"] = min_
        if max_ is not None:
            defaults["max"] = max_
        refs = iter("ABCDEFGH")
        panel = {
            "type": kind, "title": title, "description": description, "id": self.next_id, "datasource": DS,
            "gridPos": {"x": self.x, "y": self.y, "w": w, "h": h},
            "targets": [{**t, "refId": next(refs)} for t in targets],
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options or ({"legend": {"displayMode": "table", "placement": "right", "showLegend": True},
                                    "tooltip": {"mode": "multi", "sort": "desc"}} if kind == "timeseries" else {}),
        }
        self.panels.append(panel)
        self.next_id += 1
        self.x += w
        self.row_h = max(self.row_h, h)


def _helps() -> dict[str, str]:
    """Metric (and recorded series) name -> its HELP, which names the source table and field."""
    from exporter.registry import FAMILIES
    from exporter.selfmetrics import SelfMetrics
    from mixin.rules import recording_rules

    helps = {spec.name: spec.help for family in FAMILIES.values() for spec in family.catalog.specs.values()}
    helps.update({name.removesuffix("_total"): text for name, _, _, text in SelfMetrics(FAMILIES.values()).reference()})
    for rule in recording_rules():
        helps[rule["record"]] = f"Recording rule {rule['record']}: " + " ".join(rule["expr"].split())
    return helps


def _describe(panel: dict, helps: dict[str, str]) -> None:
    """A panel without a written description gets the HELP of each metric it shows (source table and field)."""
    if panel.get("description") or panel["type"] == "row":
        return
    from exporter.registry import FAMILIES

    prefixes = "|".join((*FAMILIES, "process"))  # each family's metrics start with its name
    seen = []
    for target in panel["targets"]:
        for name in re.findall(rf"\b([a-z_]+:[a-z0-9_]+:[a-z]+|(?:{prefixes})_[a-z0-9_]+)\b", target["expr"]):
            base = re.sub(r"_(bucket|sum|count|total)$", "", name)
            if base in helps and helps[base] not in seen:
                seen.append(helps[base])
    panel["description"] = " ".join(seen) or panel["title"]


def dashboard(uid: str, title: str, description: str, variables: list[dict], layout: Layout,
              tags: list[str]) -> Dashboard:
    """A dashboard of ``layout``'s panels; a panel without a description gets the HELP of what it shows."""
    helps = _helps()
    for panel in layout.panels:
        _describe(panel, helps)
    return {
        "uid": uid, "title": title, "description": description, "tags": ["vsxi-xivo-exporter", *tags],
        "schemaVersion": 39, "version": 1, "editable": False, "graphTooltip": 1, "timezone": "",
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s", "links": [], "annotations": {"list": []},
        "templating": {"list": [_var_datasource(), *variables]}, "panels": layout.panels,
    }
