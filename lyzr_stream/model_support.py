"""What the framework model classes (ChatLyzr, LyzrLLM) share, framework-neutral.

Both are pydantic models with the same client fields and call-option fields; these helpers read
those fields by name so that each rule lives once: how a model builds its client, which of its
fields form the lowest call-option layer, and how it pickles without its key or client.
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from .client import LyzrClient
from .conversation import CALL_OPTION_NAMES
from .settings import resolve_api_key

__all__ = ["client_for", "constructor_options", "pickle_state", "restored_key"]


def client_for(model: Any, api_key: SecretStr | None) -> LyzrClient:
    """The core client a model's fields describe (every argument is validated here)."""
    return LyzrClient(
        api_key=api_key,
        base_url=model.base_url,
        user_id=model.user_id,
        dialect=model.dialect,
        dialect_options=model.dialect_options or None,
        timeout=model.timeout,
        max_retries=model.max_retries,
        coalesce=model.coalesce,
        max_event_bytes=model.max_event_bytes,
        allow_insecure_http=model.allow_insecure_http,
        default_headers=model.default_headers or None,
    )


def constructor_options(model: Any) -> dict[str, Any]:
    """The model's own call-option fields: the lowest layer of option resolution."""
    return {name: getattr(model, name) for name in CALL_OPTION_NAMES}


def pickle_state(state: dict[Any, Any]) -> dict[Any, Any]:
    """A pydantic ``__getstate__`` result without the key and without the client."""
    state["__dict__"] = {**state["__dict__"], "api_key": None}
    private = dict(state.get("__pydantic_private__") or {})
    private["_client"] = None
    state["__pydantic_private__"] = private
    return state


def restored_key() -> SecretStr | None:
    """The key of an unpickled model: from the environment (a clear error comes at the first
    call that needs one if it is missing)."""
    return resolve_api_key(None, required=False)
