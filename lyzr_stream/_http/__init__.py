"""The HTTP I/O layer: sending requests over httpx and reading their bodies, with pooled
connections, timeouts and retries. Nothing here knows a wire format or a framework."""
