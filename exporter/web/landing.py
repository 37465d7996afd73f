"""The landing page (``/``) for a fleet: health first, failures first, filtered by name; no JavaScript. A pure
function of the states (exporter.web.app serves it).

Prometheus' own targets page is what operators know: a summary, then what is unhealthy, then the rest. At
1,000 targets a page listing every collector was 7,000+ rows with the failing ones buried; here the counts come
first, then one row per failing collector (or target down) with its last error, then the healthy targets, one
row each. In an outage the targets down come first (before those up with a failing collector), one row each
when every failed collector shares one reason (the round stopped at the first: the others were not asked), and
a line counts the targets down by reason (``connect_timeout: 300``: a site is gone). Both lists are capped
(the page says how many are left out, and the ``q`` filter, a substring of the name, narrows them), so it stays
small whatever the fleet: 17 kB at 1,000 targets with 20 failing, ~80 kB at most.
"""

from __future__ import annotations

import html
from urllib.parse import quote

from exporter import __version__
from exporter.polling.state import TargetState
from exporter.registry import FAMILIES

MAX_FAILING_ROWS = 300
MAX_HEALTHY_ROWS = 100
STYLE = ("body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse;margin-bottom:1em}"
         "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.bad{background:#fdd}.warn{background:#ffd}"
         ".ok{background:#dfd}.sum td{font-size:1.2em}")


def _age(now: float, ts: float | None) -> str:
    return "never" if ts is None else f"{now - ts:.0f}s ago"


def _state(state: TargetState) -> str:
    if state.up:
        return "up"
    return FAMILIES[state.family].status.standby_text if state.standby else "down"


def _probe(name: str) -> str:
    return f'<a href="/probe?target={quote(name)}">{html.escape(name)}</a>'


def render(states: dict[str, TargetState], now: float, query: str, metrics_path: str) -> str:
    """The page for ``states`` (a snapshot), filtered by ``query`` (a substring of the target's name)."""
    needle = query.strip().lower()
    names = sorted(n for n in states if needle in n.lower())
    up = sum(1 for n in names if states[n].up)
    standby = sum(1 for n in names if not states[n].up and states[n].standby)
    failing_collectors = sum(1 for n in names for c in states[n].collectors.values()
                             if not c.success and c.reason is not None)
    failing, healthy = [], []
    down_by_reason: dict[str, int] = {}
    for name in names:
        state = states[name]
        bad = [c for c in state.collectors.values() if not c.success and c.reason is not None]
        if bad or (not state.up and not state.standby):
            failing.append((name, state, bad))
            if _state(state) == "down":
                reason = bad[0].reason if bad else "pending"
                down_by_reason[reason] = down_by_reason.get(reason, 0) + 1
        else:
            healthy.append((name, state))
    failing.sort(key=lambda entry: _state(entry[1]) != "down")  # stable: down first, each part by name
    rows = []
    for name, state, bad in failing[:MAX_FAILING_ROWS]:
        label = _state(state)
        css = "bad" if label == "down" else "warn"
        head = f'<tr class="{css}"><td>{_probe(name)}</td><td>{state.family}</td><td>{label}</td>'
        if not bad:  # down and no collector has failed yet (never polled)
            rows.append(head + "<td></td><td>pending</td><td>never</td><td></td></tr>")
        elif label == "down" and len(bad) > 1 and len({c.reason for c in bad}) == 1:
            # The round stopped at the first failure: one row, with the error of the table that was asked.
            stamps = [c.last_success for c in bad if c.last_success is not None]
            rows.append(head + f"<td>all {len(bad)}</td><td>{html.escape(bad[0].reason or '')}</td>"
                        f"<td>{_age(now, max(stamps) if stamps else None)}</td>"
                        f"<td>{html.escape(bad[0].error or '')}</td></tr>")
        else:
            for c in bad:
                rows.append(head + f"<td>{html.escape(c.collector)}</td><td>{html.escape(c.reason or '')}</td>"
                            f"<td>{_age(now, c.last_success)}</td><td>{html.escape(c.error or '')}</td></tr>")
    down_line = ("<p>Down by reason: " + ", ".join(f"{html.escape(r)}: {n}" for r, n in
                                                    sorted(down_by_reason.items(), key=lambda x: (-x[1], x[0])))
                 + "</p>") if down_by_reason else ""
    healthy_rows = []
    for name, state in healthy[:MAX_HEALTHY_ROWS]:
        stamps = [c.last_success for c in state.collectors.values() if c.last_success is not None]
        healthy_rows.append(f'<tr class="ok"><td>{_probe(name)}</td><td>{state.family}</td><td>{_state(state)}</td>'
                            f"<td>{len(state.collectors)}</td><td>{_age(now, min(stamps) if stamps else None)}"
                            "</td></tr>")
    by_family = ", ".join(f"{sum(1 for n in names if states[n].family == f)} {FAMILIES[f].title}"
                          for f in FAMILIES if any(states[n].family == f for n in names))
    shown = f" matching <b>{html.escape(query)}</b>" if needle else ""
    more_failing = (f"<p>{len(failing) - MAX_FAILING_ROWS} more failing targets not shown: filter by name.</p>"
                    if len(failing) > MAX_FAILING_ROWS else "")
    more_healthy = (f"<p>{len(healthy) - MAX_HEALTHY_ROWS} more healthy targets not shown: filter by name.</p>"
                    if len(healthy) > MAX_HEALTHY_ROWS else "")
    path = html.escape(metrics_path)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>vsxi-xivo-exporter</title><style>{STYLE}</style></head>
<body><h1>vsxi-xivo-exporter {__version__}</h1>
<p><a href="{path}">Metrics</a> - <a href="/-/healthy">Health</a> - <a href="/-/ready">Readiness</a> -
<a href="/sd">Service discovery</a></p>
<form method="get" action="/"><input name="q" value="{html.escape(query)}" placeholder="target name">
<button>Filter</button> <a href="/">all</a></form>
<h2 id="summary">Targets{shown}: {len(names)} ({by_family or "none"})</h2>
<table class="sum"><tr><th>up</th><th>down</th><th>standby</th><th>collectors failing</th></tr>
<tr><td class="ok">{up}</td><td class="{'bad' if len(names) - up - standby else 'ok'}">{len(names) - up - standby}</td>
<td>{standby}</td><td class="{'bad' if failing_collectors else 'ok'}">{failing_collectors}</td></tr></table>
<h2 id="failing">Failing: {len(failing)} targets</h2>
{down_line}<table><tr><th>target</th><th>family</th><th>state</th><th>collector</th><th>reason</th><th>last success</th>
<th>last error</th></tr>
{"".join(rows)}</table>{more_failing}
<h2 id="healthy">Healthy: {len(healthy)} targets</h2>
<table><tr><th>target</th><th>family</th><th>state</th><th>collectors</th><th>oldest last success</th></tr>
{"".join(healthy_rows)}</table>{more_healthy}
</body></html>
"""
