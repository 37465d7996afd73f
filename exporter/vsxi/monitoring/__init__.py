"""The VSXi family's share of the monitoring bundle: its dashboards, rules and alerts, their thresholds
(config.py) and runbook sections (runbook.md). Read by ``python -m mixin`` from the repository; the exporter
itself never imports this package."""

from __future__ import annotations

from pathlib import Path

from exporter.devicefamily import Monitoring
from exporter.vsxi.monitoring import dashboards, rules

MONITORING = Monitoring(
    recording_rules=rules.recording_rules, alerts=rules.alerts, capacity_rules=rules.capacity_rules,
    dashboards=dashboards.dashboards,
    runbook=Path(__file__).with_name("runbook.md"), health_panels=dashboards.health_panels,
    not_shown={
        "vsxi_system_demo_licence": "demo_lic is -1 on every licensed SBC seen; a flag, kept for queries",
        "vsxi_ha_slave_status": "slave_stat is a raw code whose meaning is not public; kept for queries",
    })
