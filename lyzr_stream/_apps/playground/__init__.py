"""The browser playground's parts: the web app, its model backends, its server and its SSE
encoding; the public names are exported by :mod:`lyzr_stream.playground`."""
