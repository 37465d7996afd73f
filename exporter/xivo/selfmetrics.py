"""The exporter's own metrics only XiVO / Wazo targets have, on /metrics (``Family.self_metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics import MetricWrapperBase

from exporter.selfmetrics import PREFIX


class XivoSelfMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.token_renewals = Counter(f"{PREFIX}_token_renewals_total", "Tokens obtained from xivo-auth, the "
                                      "first one included.", ["target"], registry=registry)

    def all(self) -> tuple[MetricWrapperBase, ...]:
        return (self.token_renewals,)
