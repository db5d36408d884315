"""``python -m lyzr_stream``: the same command line as the ``lyzr-stream`` script."""

from ._apps.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
