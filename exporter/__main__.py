if __name__ == "__main__":
    # Imported here, not above: a parse worker (spawned) imports this module too, and needs none of the
    # command line's imports (aiohttp, prometheus_client, ...): ~30 MB per worker instead of ~48 MB.
    from exporter.cli import main

    raise SystemExit(main())
