"""The building blocks of a family's monitoring (``devicefamily.Monitoring``): its rules and dashboards, plain
dicts of Prometheus' rule files and Grafana's JSON model.

A family package's ``monitoring/`` uses these; ``mixin.rules`` and ``mixin.dashboards`` assemble what every
registered family hands over with what is common to all (the exporter's health, collector and site alerts).
Dashboard conventions, checked by tests/test_mixin.py: a ``datasource`` variable and no hard-coded datasource;
``job`` then ``target`` variables, chained (each query filters on the previous), then domain variables (trunk,
queue); ``$__rate_interval`` in every rate(); a unit on every panel; stable uids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from mixin.config import RUNBOOK_URL, SITE_LABEL

if TYPE_CHECKING:
    from exporter.polling.status import StatusSpecs

Rule = dict  # one rule of a Prometheus rule group (record or alert), as written to YAML
Dashboard = dict  # Grafana's JSON model


# --- rules ---

def ratio(num: str, den: str, by: str) -> str:
    """sum(numerator) / sum(denominator) with empty denominators filtered out: no NaN, no +Inf."""
    return f"sum by ({by}) ({num})\n/\n(sum by ({by}) ({den}) > 0)"


def alert(name: str, expr: str, for_: str, severity: str, component: str, summary: str,
          description: str, subject: str | None = None) -> Rule:
    """An alert named ``VsxiXivo<name>``, with ``severity`` (critical, warning, info) and ``component`` (exporter,
    site, sbc, pbx, trunk, collector, media, queue, certificate, device) for the example Alertmanager config to
    inhibit on, and its runbook section's address.

    ``summary`` is the same for every alert of the name (no label in it): the example Alertmanager config
    groups by alert name, and a notification of many alerts reads as their common summary. The object the
    alert is about (``subject``, a template of its labels) opens the description, where the description does
    not name it already."""
    if "{{" in summary:
        raise ValueError(f"VsxiXivo{name}: a summary with a template ({summary!r}) differs between the alerts "
                         "one notification groups; name the object in the description (subject=)")
    if subject:
        description = f"{subject}: {description}"
    rule = {"alert": f"VsxiXivo{name}", "expr": expr}
    if for_ != "0m":
        rule["for"] = for_
    rule["labels"] = {"severity": severity, "component": component}
    rule["annotations"] = {"summary": summary, "description": description,
                           "runbook_url": f"{RUNBOOK_URL}#{rule['alert'].lower()}"}
    return rule


@dataclass(frozen=True)
class HeldBaseline:
    """The level of ``level`` (an instant vector, one series per ``by``) before a drop, held while the drop
    lasts, recorded as ``record``; a drop is ``level`` below ``ratio`` of it.

    A drop alert that compares the level with itself ``offset`` ago resolves once the outage is ``offset`` old: it
    then compares the outage with itself. This baseline is the mean of ``level`` over the 10 minutes ``offset``
    ago, as long as ``level`` is at or above ``ratio`` of the baseline recorded at the previous evaluation;
    below it (the drop), the previous baseline is kept, evaluation after evaluation, until ``level`` is back
    above ``ratio`` of it. An alert on ``dropped()`` therefore stays firing for the whole outage, however long,
    and resolves at the first evaluation after the recovery. A slow decline (an evening) moves the baseline
    with it and never counts as a drop. The rule and the alert read one ratio: they cannot disagree."""

    record: str
    level: str
    by: str
    ratio: float
    offset: str

    def rule(self) -> Rule:
        previous = f"last_over_time({self.record}[5m])"
        fell = f"{self.level}\n  < on ({self.by}) {self.ratio} * {previous}"
        return {"record": self.record,
                "expr": f"(\n  {previous}\n  and on ({self.by})\n  ({fell})\n)\nor\n(\n  avg_over_time("
                        f"{self.level}[10m] offset {self.offset})\n  unless on ({self.by})\n  ({fell})\n)"}

    def dropped(self, minimum: float) -> str:
        """The drop, where the baseline was at least ``minimum`` (a volume guard: quiet devices and nights stay
        quiet). The value is the level now."""
        return (f"{self.level}\n< on ({self.by}) {self.ratio} * {self.record}\nand on ({self.by})\n"
                f"{self.record} >= {minimum}")


def auth_refused(family: str, up: str, window: str, min_rounds: int) -> str:
    """A family's targets whose poll rounds were stopped by an authentication failure at least ``min_rounds``
    times in ``window``, and still are (``up`` 0): one refused login among successes is no alert. The
    exporter's own series (its job) and the device's (a /probe job, in that scrape style) meet on target."""
    return (f'increase(vsxi_xivo_exporter_auth_failures_total{{family="{family}"}}[{window}]) >= {min_rounds}\n'
            f"and on (target)\n{up} == 0")


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


def dashboard(uid: str, title: str, description: str, variables: list[dict], layout: Layout,
              tags: list[str]) -> Dashboard:
    """A dashboard of ``layout``'s panels (the mixin gives a panel without a description the HELP of what it
    shows, once every family's rules are known)."""
    return {
        "uid": uid, "title": title, "description": description, "tags": ["vsxi-xivo-exporter", *tags],
        "schemaVersion": 39, "version": 1, "editable": False, "graphTooltip": 1, "timezone": "",
        "time": {"from": "now-6h", "to": "now"}, "refresh": "30s", "links": [], "annotations": {"list": []},
        "templating": {"list": [_var_datasource(), *variables]}, "panels": layout.panels,
    }
