"""The monitoring mixin: dashboards, recording rules, alerts and runbooks, generated from code.

``python -m mixin`` writes ``grafana/dashboards/*.json``, ``rules/*.yml``, the Kubernetes PrometheusRule and
``docs/runbooks.md`` from what is common here and from each registered family's ``monitoring/``; tests check
that the committed files equal what the generator produces. The thresholds all families share live in
``mixin/config.py``, each family's in ``exporter/<family>/monitoring/config.py``.
"""
