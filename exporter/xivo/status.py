"""The XiVO / Wazo status series: the common four per collector; no standby, no target info."""

from __future__ import annotations

from exporter.polling.status import StatusSpecs, common_collector_series
from exporter.xivo import metrics as xm

STATUS = StatusSpecs(
    up=xm.UP,
    collector=common_collector_series(xm.COLLECTOR_SUCCESS, xm.COLLECTOR_LAST_SUCCESS, xm.COLLECTOR_DURATION,
                                      xm.COLLECTOR_BYTES),
)
