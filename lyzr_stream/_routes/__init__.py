"""The service's routes besides the agent call (assets, session memory), sans-I/O: what each
sends and how its answer is read. The client sends them through the one HTTP path."""
