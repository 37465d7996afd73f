"""The Sansay VSXi family: what the shared code needs of it (``FAMILY``)."""

from __future__ import annotations

from exporter.devicefamily import Demo, DemoDevice, Family, Monitoring
from exporter.vsxi.config import COLLECTORS, KEYS, VsxiTarget, check_vsxi
from exporter.vsxi.metrics import CATALOG
from exporter.vsxi.poller import VsxiPoller
from exporter.vsxi.status import STATUS

DEMO_PASSWORD = "demo-secret"  # noqa: S105 - the simulators' own, loopback only
# One SBC speaks XML in the old mysqldump layout, the other JSON in the new layout (``table_data`` with
# ``xsi:nil``) and writes its answers as other firmware may (a byte-order mark, 19,750 and 98%, TrunkId,
# HH:MM:SS durations, a value that is no number: the simulator's ``field_variants``).
DEMO_SBCS = (("sbc-demo-xml", "xml", "old", None),
             ("sbc-demo-json", "json", "new", {"field_variants": True, "bom": True}))


async def demo(interval: float) -> Demo:
    from exporter.simulator.vsxi_app import VsxiSimulator, demo_tls, start_simulator
    from exporter.target import TLSConfig

    devices, runners = [], []
    for name, fmt, layout, faults in DEMO_SBCS:
        sim = VsxiSimulator(username="monitor", password=DEMO_PASSWORD, layout=layout, faults=faults)
        if fmt == "xml":
            # gw_realtime_stat with trunk-pair rows (their shape is assumed: only seen empty), so the
            # dashboards' trunk-pair panels have data in the demo.
            sim.model.busy_gateways = True
        # The XML SBC speaks HTTPS with a self-signed certificate, as devices often do: its expiry is read
        # (vsxi_xivo_target_certificate_expiry_timestamp_seconds) although it is not verified.
        tls = fmt == "xml"
        runner, url = await start_simulator(sim, ssl_context=demo_tls() if tls else None)
        runners.append(runner)
        target = VsxiTarget(name=name, url=url, username="monitor", password=DEMO_PASSWORD, format=fmt,
                            interval=interval, timeout=5.0, tls=TLSConfig(insecure_skip_verify=tls))
        devices.append(DemoDevice(target, f"{url}/_sim/faults", '{"status": 503}'))
    return Demo(tuple(devices), tuple(runners))


# docs/metrics.md: how the family's values are read, after the reference's general introduction.
REFERENCE_NOTES = """
Fields marked **[assumed]** come from tables or fields nobody has published (`resource_detail`,
`sip_stats`, a busy `gw_realtime_stat`): the mapping follows `docs/device-apis.md` and is to be
confirmed on a device. Any numeric field the exporter cannot map is still exported, as
`vsxi_unmapped_field_value`, and counted in `vsxi_collector_unmapped_fields`: a firmware with other fields
shows up there instead of being lost. Please report such fields.

## Accepted forms of a value

Every VSXi field that reaches a metric is read the same way, in XML or JSON (org.json conversion):

- **numbers** (every gauge and counter value): an integer or decimal (`12`, `-1`, `0.5`), an exponent
  (`1.5e3`), thousands separators (`19,750`), a trailing percent sign (`98%`: the field is in percent;
  `cpu_idle_percent` becomes a ratio), surrounding whitespace, JSON numbers. `NaN` and infinities are no
  value. Missing: absent field, empty text, `xsi:nil="true"`, JSON null, `N/A`, `null`, `none`, `-`: the
  series is left out. Anything else (`true`, `1,5`, `12 kB`) is left out and counted in
  `vsxi_collector_unreadable_values{field}`.
- **call durations** (`active_calls` `duration`): a number of seconds, or `HH:MM:SS` / `H:MM:SS` / `MM:SS`;
  a call without one counts in the histogram's `+Inf` bucket only.
- **answer times** (`active_calls` `ans_time`): any text is "answered" except empty, `0`,
  `0000-00-00 00:00:00`, `N/A`, `null`, `none`.
- **labels** (trunk ids, fqdn, states, protocols, aliases): trimmed, at most 64 characters; JSON numbers as
  their integer text (`1001`, never `1001.0`). HA states are lower-cased (`Active` is `active`).
- **field names**: matched without regard to case (`TrunkId` is `trunkId`).
- **documents**: a UTF-8 byte-order mark, UTF-16 with its mark, any field order, any whitespace. An answer
  with nothing in it (no body, `{}`, `""`, no table) is zero rows for `resource_detail` and `sip_stats` (an
  HA standby or an idle SBC) and a failed table (`degenerate_payload`) for the others.
"""

REASONS = {
    "http_400": "`fail - ...`, also the SBC's answer to a request sent while another is in flight (retried)",
    "http_401": "`User Not Authorized`: wrong username or password; stops the round",
    "http_402": "HTTP 402 `Load-Balance Slave mode`: HA standby node (stops the round; see vsxi_standby)",
    "json_jaxb": "HTTP 500 `convert xml2json failed(JAXB)`: the table is polled as XML from then on",
}


def monitoring() -> Monitoring:
    from exporter.vsxi.monitoring import MONITORING  # the mixin's sources, imported only by the mixin

    return MONITORING


FAMILY = Family(name="vsxi", title="VSXi", device_noun="SBC", check_target=check_vsxi,
                collectors=COLLECTORS, target_keys=KEYS, poller=VsxiPoller, catalog=CATALOG, status=STATUS, demo=demo,
                collector_heading="stats/", reference_notes=REFERENCE_NOTES, reasons=REASONS,
                monitoring=monitoring)
