"""The XiVO / Wazo family: what the shared code needs of it (``FAMILY``)."""

from __future__ import annotations

from exporter.devicefamily import Demo, DemoDevice, Family, Monitoring
from exporter.xivo.config import COLLECTORS, KEYS, XivoTarget, check_xivo
from exporter.xivo.metrics import CATALOG
from exporter.xivo.poller import XivoPoller
from exporter.xivo.selfmetrics import XivoSelfMetrics
from exporter.xivo.status import STATUS

DEMO_PASSWORD = "demo-secret"  # noqa: S105 - the simulators' own, loopback only
# A XiVO 16 (a port per service, backend xivo_service, chan_sip) and a Wazo (API gateway, backend wazo_user,
# calld trunks and lines): every wire variant of the family.
DEMO_PBXS = (("pbx-demo-xivo16", "xivo16"), ("pbx-demo-wazo", "wazo"))


async def demo(interval: float) -> Demo:
    from exporter.simulator.xivo_app import XivoSimulator, start_xivo
    from exporter.simulator.xivo_model import BACKENDS

    devices, runners = [], []
    for name, generation in DEMO_PBXS:
        sim = XivoSimulator(generation, username="exporter", password=DEMO_PASSWORD)
        sim.model.odd_values = generation == "wazo"  # one value no number: the unreadable-values panel has data
        started, where = await start_xivo(sim)
        runners.extend(started)
        base = where["url"] if where["api_gateway"] else where["services"]["auth"].rsplit("/", 1)[0]
        # Every collector, members included: the demo shows the contact-centre row too.
        target = XivoTarget(name=name, username="exporter", password=DEMO_PASSWORD, backend=BACKENDS[generation],
                            interval=interval, timeout=5.0, collectors=COLLECTORS, queue_members=True, **where)
        devices.append(DemoDevice(target, f"{base}/_sim/faults", '{"auth_down": true}'))
    return Demo(tuple(devices), tuple(runners))


REASONS = {
    "auth_failed": "xivo-auth refused the credentials or the backend (never retried; stops the round)",
    "auth_unavailable": "xivo-auth is down or unreachable (services answer 503): not the PBX itself",
    "ami_error": "amid answered an AMI error (Response: Error), e.g. a missing amid.action ACL",
    "http_401": "a token refused even after re-authenticating: an ACL the account lacks, for that collector only",
}


def monitoring() -> Monitoring:
    from exporter.xivo.monitoring import MONITORING  # the mixin's sources, imported only by the mixin

    return MONITORING


FAMILY = Family(name="xivo", title="XiVO", device_noun="PBX", check_target=check_xivo,
                collectors=COLLECTORS, target_keys=KEYS, poller=XivoPoller, catalog=CATALOG, status=STATUS, demo=demo,
                collector_heading="collector ", reasons=REASONS, self_metrics=XivoSelfMetrics,
                monitoring=monitoring)
