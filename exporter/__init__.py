"""vsxi-xivo-exporter: Prometheus exporter for Sansay VSXi SBCs and XiVO PBXs."""

__version__ = "0.1.0"
