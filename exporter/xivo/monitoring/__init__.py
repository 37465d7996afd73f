"""The XiVO family's share of the monitoring bundle: its dashboard, rules and alerts, their thresholds
(config.py) and runbook sections (runbook.md). Read by ``python -m mixin`` from the repository; the exporter
itself never imports this package."""

from __future__ import annotations

from pathlib import Path

from exporter.devicefamily import Monitoring
from exporter.xivo.monitoring import dashboards, rules

MONITORING = Monitoring(
    recording_rules=rules.recording_rules, alerts=rules.alerts, dashboards=dashboards.dashboards,
    runbook=Path(__file__).with_name("runbook.md"), health_panels=dashboards.health_panels,
    not_shown={"xivo_queue_member_last_call_timestamp_seconds":
               "per member, for queries (time since an agent's last call)"})
