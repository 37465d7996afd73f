"""vsxi-xivo-exporter: Prometheus exporter for session border controllers and PBXs (the device families:
exporter.registry)."""

__version__ = "0.1.0"
