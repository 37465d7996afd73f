from exporter.cli import main

if __name__ == "__main__":  # the guard keeps spawned parse workers from starting an exporter of their own
    raise SystemExit(main())
