"""The VSXi status series: the common four per collector, plus unmapped fields, duplicate rows and the JSON
fallback (only for a target configured for JSON), a standby flag (402) and the HA pair as target info."""

from __future__ import annotations

from exporter.polling.status import CollectorSeries, StatusSpecs, common_collector_series
from exporter.vsxi import metrics as vm

STATUS = StatusSpecs(
    up=vm.UP,
    collector=(*common_collector_series(vm.COLLECTOR_SUCCESS, vm.COLLECTOR_LAST_SUCCESS, vm.COLLECTOR_DURATION,
                                        vm.COLLECTOR_BYTES),
               CollectorSeries(vm.COLLECTOR_UNMAPPED, lambda c, fallback: c.unmapped_fields),
               CollectorSeries(vm.COLLECTOR_DUPLICATES, lambda c, fallback: c.duplicate_rows),
               CollectorSeries(vm.COLLECTOR_FALLBACK, lambda c, fallback: 1.0 if fallback else 0.0,
                               present=lambda target: target.format == "json")),
    standby=vm.STANDBY,
    standby_text="standby (402)",
    info=vm.TARGET_INFO,
    info_of=lambda target: target.ha_group,
)
