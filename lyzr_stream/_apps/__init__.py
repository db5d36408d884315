"""The programs users run: the ``lyzr-stream`` command line and the browser playground."""
