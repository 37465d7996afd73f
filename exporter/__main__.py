"""``python -m exporter``: the command line (parse workers start from exporter.polling.workerprocess instead)."""

from exporter.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
