"""The monitoring mixin: dashboards, recording rules and alerts, generated from code.

``python -m mixin`` writes ``grafana/dashboards/*.json`` and ``rules/*.yml``; tests check that the committed
files equal what the generator produces. Every alert threshold lives in ``mixin/config.py``.
"""
