"""The VSXi status series: the common four per collector, plus unmapped fields, duplicate rows and the JSON
fallback (only for a target configured for JSON), a standby flag (402) and the HA pair as target info."""

from __future__ import annotations

from exporter.polling.status import CollectorSeries, StatusSpecs, common_collector_series
from exporter.vsxi import metrics as vm

STATUS = StatusSpecs(
    up=vm.UP,
    collector=(*common_collector_series(vm.COLLECTOR_SUCCESS, vm.COLLECTOR_LAST_SUCCESS, vm.COLLECTOR_DURATION,
                                        vm.COLLECTOR_BYTES),
               # c.facts: the last answer's AnswerFacts (vsxi.collectors); none before the first success.
               CollectorSeries(vm.COLLECTOR_UNMAPPED, lambda c, note: c.facts and c.facts.unmapped_fields),
               CollectorSeries(vm.COLLECTOR_DUPLICATES, lambda c, note: c.facts and c.facts.duplicate_rows),
               # The poller's note: the table is polled as XML for good (VsxiPoller.collector_note).
               CollectorSeries(vm.COLLECTOR_FALLBACK, lambda c, polled_as_xml: 1.0 if polled_as_xml else 0.0,
                               present=lambda target: target.format == "json")),
    standby=vm.STANDBY,
    standby_text="standby (402)",
    info=vm.TARGET_INFO,
    info_of=lambda target: target.ha_group,
)
