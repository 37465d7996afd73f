"""What every family's poller shares: the poll loop of one target (``poller.BasePoller``), its state and status
series, and the parse worker processes answers are parsed in. ``exporter.engine`` runs one poller per target."""
