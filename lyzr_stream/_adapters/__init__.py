"""Framework-neutral rules the LangChain and LlamaIndex adapters share: call options and what a
call sends, model fields, attachments, session memory, stop sequences, token estimates and
structured output. No framework import here."""
