"""``ChatLyzr``: a Lyzr agent as a LangChain chat model."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from operator import itemgetter
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LangSmithParams, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, RunnableMap, RunnablePassthrough
from langchain_core.runnables.config import ensure_config
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from lyzr_stream import (
    AgentRequest,
    AgentResponse,
    LyzrClient,
    TextDelta,
    ToolActivity,
    ToolSpec,
)
from lyzr_stream.attachments import CallAttachments
from lyzr_stream.conversation import check_call_kwargs, prepare_call, resolve_call_options
from lyzr_stream.errors import InvalidRequestError
from lyzr_stream.events import StreamEvent
from lyzr_stream.local_tools import normalize_tool_choice
from lyzr_stream.model_support import (
    LyzrModelFields,
    carries_messages,
    client_for,
    constructor_options,
    pickle_state,
    restored_key,
)
from lyzr_stream.settings import ENV_API_KEY
from lyzr_stream.stop import StopFilter, cut_at_stop

from ._convert import (
    event_to_chunk,
    final_chunk,
    response_to_result,
    text_chunk,
    to_core_messages,
)
from ._media import media_of

__all__ = ["ChatLyzr"]

#: The kwarg through which the public entry points hand the RunnableConfig to _generate/_stream.
_CONFIG_KWARG = "_lyzr_config"
#: Keyword arguments LangChain itself may pass down; they are not call options.
_FRAMEWORK_KWARGS = frozenset(
    {"stream", "ls_structured_output_format", "structured_output_format", _CONFIG_KWARG}
)
_POLICY_KWARGS = frozenset({"timeout", "max_retries"})
#: Set by bind_tools / with_structured_output.
_TOOL_KWARGS = frozenset({"tools", "tool_choice", "response_format"})
#: Per-call agent override: for ChatLyzr the agent is the model.
_AGENT_KWARGS = ("model", "agent_id")
_OPTION_KWARGS = frozenset(
    {"session_id", "user_id", "system_prompt_variables", "filter_variables", "features", "assets"}
)


class ChatLyzr(BaseChatModel, LyzrModelFields):
    """A Lyzr agent as a LangChain chat model, streaming token by token.

    Setup:
        Install the package with the LangChain extra and set your key:

        .. code-block:: bash

            pip install "lyzr-stream[langchain]"
            export LYZR_API_KEY="your-api-key"

    Key init args — agent:
        agent_id: str
            The agent's id in Lyzr Studio.
        dialect: str
            Wire format: ``"lyzr-v3"`` (default), ``"lyzr-v2"``, ``"aisquare"``,
            ``"chat-messages"``; ``dialect_options`` configures it.
        message_mode: "turn" | "history"
            ``"turn"`` (default) sends only the new turn: the agent keeps the conversation in
            its server-side session memory. ``"history"`` sends the whole transcript as
            ``messages`` for stateless use.

    Key init args — session:
        session_id, user_id, system_prompt_variables, filter_variables, features, assets.

    Key init args — client:
        api_key: SecretStr
            Defaults to ``LYZR_API_KEY``; missing is an error at construction.
        base_url: str
            Defaults to ``LYZR_BASE_URL``, else ``https://agent-prod.studio.lyzr.ai``.
        timeout: float | httpx.Timeout | lyzr_stream.Timeouts
        max_retries: int
            Retries before any text was delivered (default 2).
        streaming: bool
            ``invoke`` uses the stream endpoint (and fires ``on_llm_new_token``).
        coalesce: bool
            Text already received leaves as one chunk (default True): what one network read
            brought, and on async streams everything that arrived while you were busy with the
            previous chunk. Nothing ever waits for more text. Set False to get exactly one
            chunk per service event.

    Instantiate:
        .. code-block:: python

            from langchain_lyzr_stream import ChatLyzr

            model = ChatLyzr(agent_id="6650...", system_prompt_variables={"tone": "warm"})

    Invoke:
        .. code-block:: python

            model.invoke("What is Lyzr?")
            model.invoke([("system", "Be brief."), ("human", "What is Lyzr?")])

    Stream:
        .. code-block:: python

            for chunk in model.stream("Tell me a story"):
                print(chunk.text, end="", flush=True)

    Async:
        .. code-block:: python

            await model.ainvoke("Hi")
            async for chunk in model.astream("Hi"):
                print(chunk.text, end="")
            await model.abatch(["Hi", "Hello"], config={"configurable": {"session_id": "s"}})

    Per-call agent:
        ``model.invoke(msg, model="other-agent-id")`` (or ``agent_id=``) sends this call to
        another agent; ``response_metadata["model_name"]`` names it.

    Stop sequences:
        ``stop=[...]`` (per call or on the instance) is applied client-side: the answer is cut
        before the first stop string and the stream is closed there.

    Sessions:
        ``session_id``, ``user_id``, ``system_prompt_variables``, ``filter_variables``,
        ``features`` and ``assets`` are resolved per call from, in rising priority:

        1. the constructor fields (``user_id`` defaults to ``LYZR_USER_ID``, then
           ``default_user``; an explicit argument beats the environment);
        2. ``config={"configurable": {...}}`` with the same names;
        3. per-call keyword arguments: ``model.invoke(msg, session_id="s2")``.

        A later level replaces an earlier one, except ``system_prompt_variables`` and
        ``filter_variables``, which are merged key by key. With no session id anywhere, LangGraph's
        ``configurable["thread_id"]`` is used, so a LangGraph thread and a Lyzr session are one
        conversation; failing that, one session id is generated per instance (reported in
        ``response_metadata["session_id"]``).

    Reasoning:
        A ``<think>...</think>`` block is kept out of the answer: it arrives in
        ``additional_kwargs["reasoning_content"]`` and as a ``reasoning`` block in
        ``message.content_blocks``; ``message.text`` is the answer only.

    Tool calling:
        ``model.bind_tools([...], tool_choice=...)`` sends the tools as Lyzr local tools with the
        whole transcript; the agent's requests come back as ``AIMessage.tool_calls`` (streamed as
        ``tool_call_chunks``) and ``ToolMessage`` results go back as ``role: tool`` messages. A
        call for a tool that was not bound raises ``UnknownToolError``.
        ``with_structured_output(schema, method="function_calling" | "json_schema" |
        "json_mode", include_raw=...)``. Works in ``create_agent`` and LangGraph agents.

    Server-side tools:
        Tools the agent runs on the server (the ``chat-messages`` dialect reports them) reach
        callbacks as custom events ``lyzr_tool_call`` / ``lyzr_tool_result`` and show up in
        ``astream_events``. They are never returned as tool calls for you to run.

    Response metadata:
        ``agent_id`` (also ``model_name``), ``session_id``, ``user_id``, ``message_id``,
        ``finish_reason``, ``artifacts`` (when the agent produced files), ``service_metadata``,
        ``time_to_first_token`` and ``total_time`` (seconds, streaming), ``model_provider``.

        ``usage_metadata`` is not set: the Lyzr API does not report token usage, and this
        class does not invent counts.
    """

    api_key: SecretStr | None = Field(
        default=None, description="API key; defaults to the LYZR_API_KEY environment variable."
    )
    default_headers: dict[str, str] = Field(default_factory=dict, description="Extra headers.")
    streaming: bool = Field(default=False, description="Use the stream endpoint for invoke.")
    stop: list[str] | None = Field(
        default=None, description="Stop sequences, applied client-side (the API has none)."
    )
    temperature: float | None = Field(
        default=None, description="Not sent: the agent's model settings live in Lyzr Studio."
    )
    max_tokens: int | None = Field(
        default=None, description="Not sent: the agent's model settings live in Lyzr Studio."
    )

    model_config = ConfigDict(arbitrary_types_allowed=True, populate_by_name=True)

    _client: LyzrClient | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _build_client(self) -> ChatLyzr:
        ignored = [n for n in ("temperature", "max_tokens") if getattr(self, n) is not None]
        if ignored:
            warnings.warn(
                f"ChatLyzr ignores {', '.join(ignored)}: a Lyzr agent's model settings are "
                "configured on the agent in Lyzr Studio",
                UserWarning,
                stacklevel=2,
            )
        # Every argument is checked here, at construction: key, URL, dialect, timeouts.
        self._client = self._new_client(self.api_key)
        self.api_key = self._client.settings.api_key
        return self

    def _new_client(self, api_key: SecretStr | None) -> LyzrClient:
        return client_for(self, api_key)

    @property
    def client(self) -> LyzrClient:
        """The core client (rebuilt after unpickling)."""
        if self._client is None:
            self._client = self._new_client(self.api_key)
        return self._client

    # -- LangChain conventions -------------------------------------------------------------------
    @property
    def _llm_type(self) -> str:
        return "lyzr"

    @property
    def model_name(self) -> str:
        return self.agent_id

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "dialect": self.dialect,
            "base_url": self.client.settings.base_url,
            "message_mode": self.message_mode,
        }

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": ENV_API_KEY}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        return ["langchain_lyzr_stream", "chat_models"]

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "lyzr"
        params["ls_model_name"] = self._agent_for(kwargs)
        params["ls_model_type"] = "chat"
        return params

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        config = kwargs.pop(_CONFIG_KWARG, None)
        params = super()._get_invocation_params(stop=stop, **kwargs)
        for private in ("api_key", "default_headers"):
            params.pop(private, None)
        try:
            options = self._options(config, kwargs)
        except InvalidRequestError:
            return params
        params.update({k: v for k, v in options.request_fields().items() if v})
        return params

    # -- pickling: no client, no key -------------------------------------------------------------
    def __getstate__(self) -> dict[Any, Any]:
        return pickle_state(super().__getstate__())

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        # The key comes back from the environment, or a clear error says it did not.
        key = restored_key()
        object.__setattr__(self, "api_key", key)
        self._client = self._new_client(key)

    # -- the config reaches _generate/_stream through a private kwarg ----------------------------
    @staticmethod
    def _carry_config(config: RunnableConfig | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        if _CONFIG_KWARG not in kwargs:
            kwargs[_CONFIG_KWARG] = ensure_config(config)
        return kwargs

    def invoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        return super().invoke(input, config, stop=stop, **self._carry_config(config, kwargs))

    async def ainvoke(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AIMessage:
        kwargs = self._carry_config(config, kwargs)
        return await super().ainvoke(input, config, stop=stop, **kwargs)

    def stream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> Iterator[AIMessageChunk]:
        return super().stream(input, config, stop=stop, **self._carry_config(config, kwargs))

    def astream(
        self,
        input: LanguageModelInput,
        config: RunnableConfig | None = None,
        *,
        stop: list[str] | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[AIMessageChunk]:
        return super().astream(input, config, stop=stop, **self._carry_config(config, kwargs))

    # v1/v2 event streams call stream()/astream() with their tracer in the config, so only the
    # v3 protocol path (which calls _stream directly) needs the config handed over here.
    def stream_events(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        if kwargs.get("version") == "v3":
            kwargs = self._carry_config(config, kwargs)
        return super().stream_events(input, config, **kwargs)

    def astream_events(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        if kwargs.get("version") == "v3":
            kwargs = self._carry_config(config, kwargs)
        return super().astream_events(input, config, **kwargs)

    # -- building a request ----------------------------------------------------------------------
    def _agent_for(self, kwargs: Mapping[str, Any]) -> str:
        """The agent of this call: ``model=`` / ``agent_id=`` per call, else the instance's."""
        for name in _AGENT_KWARGS:
            value = kwargs.get(name)
            if value is not None:
                if not isinstance(value, str) or not value.strip():
                    raise InvalidRequestError(f"{name} must be a non-empty agent id string")
                return value
        return self.agent_id

    @staticmethod
    def _session_fallback(configurable: Mapping[str, Any]) -> str | None:
        """LangGraph's ``thread_id`` when no session id is given: a thread is a session."""
        thread_id = configurable.get("thread_id")
        return str(thread_id) if thread_id else None

    def _options(self, config: Mapping[str, Any] | None, kwargs: Mapping[str, Any]) -> Any:
        configurable: Mapping[str, Any] = (config or {}).get("configurable") or {}
        return resolve_call_options(
            constructor_options(self),
            configurable,
            kwargs,
            fallback_session_id=self._session_fallback(configurable),
        )

    def _prepare(
        self, messages: Sequence[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
    ) -> tuple[AgentRequest, dict[str, Any], RunnableConfig, CallAttachments]:
        """The request (files not yet uploaded), policy kwargs, config, and the call's files."""
        config: RunnableConfig = kwargs.pop(_CONFIG_KWARG, None) or ensure_config()
        accepted = _OPTION_KWARGS | _POLICY_KWARGS | _TOOL_KWARGS | set(_AGENT_KWARGS)
        check_call_kwargs(kwargs, owner="ChatLyzr", accepted=accepted, ignored=_FRAMEWORK_KWARGS)
        configurable: Mapping[str, Any] = config.get("configurable") or {}
        call = prepare_call(
            to_core_messages(messages),
            agent_id=self._agent_for(kwargs),
            option_layers=(constructor_options(self), configurable, kwargs),
            message_mode=self.message_mode,
            fallback_session_id=self._session_fallback(configurable),
            tools=[ToolSpec.from_openai(t) for t in kwargs.get("tools") or ()],
            tool_choice=kwargs.get("tool_choice"),
            response_format=kwargs.get("response_format"),
            policy=kwargs,
            carries_messages=carries_messages(self.client),
            media=[media_of(m) for m in messages],
        )
        return call.request, dict(call.policy), config, call.attachments

    # -- tools and structured output --------------------------------------------------------------
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools the agent may ask this process to run (Lyzr "local tools").

        Accepts LangChain tools, pydantic models, functions and OpenAI-format dicts.
        ``tool_choice``: ``"auto"`` (default), ``"any"``/``"required"``/``True`` (must call
        one), ``"none"``, or a tool name; it travels in the ``local_tools`` feature config,
        which agents may or may not honour. Bound calls send the whole transcript.
        """
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        names = [t["function"]["name"] for t in formatted]
        choice = normalize_tool_choice(tool_choice, names)
        return super().bind(tools=formatted, tool_choice=choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: Literal["function_calling", "json_schema", "json_mode"] = "function_calling",
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | Any]:
        """Answers as ``schema`` (a pydantic model, TypedDict or JSON schema).

        ``method="function_calling"`` (default) binds the schema as a tool the agent must call;
        ``method="json_schema"`` sends it as the request's ``response_format`` and parses the
        JSON answer; ``method="json_mode"`` asks for any JSON object (``{"type":
        "json_object"}``) and parses it. ``include_raw=True`` returns ``{"raw", "parsed",
        "parsing_error"}``.
        """
        kwargs.pop("strict", None)
        if method == "function_calling":
            return super().with_structured_output(schema, include_raw=include_raw, **kwargs)
        if method not in ("json_schema", "json_mode"):
            raise InvalidRequestError(
                f"method must be 'function_calling', 'json_schema' or 'json_mode', got {method!r}"
            )
        if kwargs:
            raise InvalidRequestError(f"unsupported arguments {sorted(kwargs)}")
        json_schema = convert_to_json_schema(schema)
        response_format: dict[str, Any] = {"type": "json_object"}
        if method == "json_schema":
            name = json_schema.get("title", "output")
            response_format = {
                "type": "json_schema",
                "json_schema": {"name": name, "schema": json_schema},
            }
        llm = self.bind(
            response_format=response_format,
            ls_structured_output_format={"kwargs": {"method": method}, "schema": json_schema},
        )
        parser: Runnable[Any, Any]
        if isinstance(schema, type) and is_basemodel_subclass(schema):
            parser = PydanticOutputParser(pydantic_object=schema)
        else:
            parser = JsonOutputParser()
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        ).with_fallbacks(
            [RunnablePassthrough.assign(parsed=lambda _: None)], exception_key="parsing_error"
        )
        return RunnableMap(raw=llm) | parsed

    # -- the four model methods ------------------------------------------------------------------
    def _should_stream(
        self,
        *,
        async_api: bool,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> bool:
        """Only ``stream``/``astream`` go through LangChain's chunk-collecting path.

        ``invoke``/``generate`` always reach ``_generate``/``_agenerate``, which read the stream
        themselves when streaming is wanted (``streaming=True``, a streaming callback handler as
        in ``astream_events`` or LangGraph's ``messages`` mode): the same token callbacks, but
        the answer is built in linear time without keeping every chunk.
        """
        if kwargs.get("stream"):
            return super()._should_stream(async_api=async_api, run_manager=run_manager, **kwargs)
        return False

    def _wants_stream(
        self,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> bool:
        options = {k: v for k, v in kwargs.items() if k != _CONFIG_KWARG}
        return super()._should_stream(async_api=False, run_manager=run_manager, **options)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        streamed = self._wants_stream(run_manager, kwargs)
        request, policy, config, files = self._prepare(messages, stop, kwargs)
        request = files.attach(self.client, request)  # uploads now: a failure sends nothing
        run_id = run_manager.run_id if run_manager is not None else None
        if not streamed:
            response = _apply_stop(self.client.chat(request, **policy), stop or self.stop)
            if run_id is not None and response.tool_activity:
                reporter = _ActivityReporter(self, config, run_id)
                for activity in response.tool_activity:
                    reporter.report(activity)
            return response_to_result(response, {})
        turn = _StreamedTurn(stop if stop is not None else self.stop, run_id)
        activities = _ActivityReporter(self, config, run_id)
        with self.client.stream(request, **policy) as events:
            for event in events:
                if type(event) is ToolActivity:
                    activities.report(event)
                    continue
                for chunk in turn.chunks(event):
                    if run_manager is not None:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                if turn.stopped:
                    break
            response, timing = events.response(), events.stats.timing()
        for chunk in turn.close(response, timing):
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        return turn.result(response, timing)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        streamed = self._wants_stream(run_manager, kwargs)
        request, policy, config, files = self._prepare(messages, stop, kwargs)
        request = await files.aattach(self.client, request)
        run_id = run_manager.run_id if run_manager is not None else None
        if not streamed:
            response = _apply_stop(await self.client.achat(request, **policy), stop or self.stop)
            if run_id is not None and response.tool_activity:
                reporter = _ActivityReporter(self, config, run_id)
                for activity in response.tool_activity:
                    await reporter.areport(activity)
            return response_to_result(response, {})
        turn = _StreamedTurn(stop if stop is not None else self.stop, run_id)
        activities = _ActivityReporter(self, config, run_id)
        async with self.client.astream(request, **policy) as events:
            async for event in events:
                if type(event) is ToolActivity:
                    await activities.areport(event)
                    continue
                for chunk in turn.chunks(event):
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                if turn.stopped:
                    break
            response, timing = events.response(), events.stats.timing()
        for chunk in turn.close(response, timing):
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
        return turn.result(response, timing)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        request, policy, config, files = self._prepare(messages, stop, kwargs)
        request = files.attach(self.client, request)  # uploads now: a failure sends nothing
        chunks = _Chunker(stop if stop is not None else self.stop)
        activity = _ActivityReporter(self, config)
        plain = not chunks.filtering
        with self.client.stream(request, **policy) as events:
            for event in events:
                kind = type(event)
                if kind is TextDelta and plain:  # the hot path: one chunk per delta
                    chunk = text_chunk(event.text)  # type: ignore[union-attr]
                    yield chunk
                    if not activity.idle:
                        activity.flush(chunk)
                    continue
                if kind is ToolActivity:
                    activity.report(event)  # type: ignore[arg-type]
                    continue
                for chunk in chunks.of(event):
                    yield chunk
                    activity.flush(chunk)
                if chunks.stopped:
                    break
            tail = chunks.close(events.response(), events.stats.timing())
        for chunk in tail:
            yield chunk
            activity.flush(chunk)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        request, policy, config, files = self._prepare(messages, stop, kwargs)
        request = await files.aattach(self.client, request)
        chunks = _Chunker(stop if stop is not None else self.stop)
        activity = _ActivityReporter(self, config)
        plain = not chunks.filtering
        async with self.client.astream(request, **policy) as events:
            async for event in events:
                kind = type(event)
                if kind is TextDelta and plain:  # the hot path: one chunk per delta
                    chunk = text_chunk(event.text)  # type: ignore[union-attr]
                    yield chunk
                    if not activity.idle:
                        await activity.aflush(chunk)
                    continue
                if kind is ToolActivity:
                    await activity.areport(event)  # type: ignore[arg-type]
                    continue
                for chunk in chunks.of(event):
                    yield chunk
                    await activity.aflush(chunk)
                if chunks.stopped:
                    break
            tail = chunks.close(events.response(), events.stats.timing())
        for chunk in tail:
            yield chunk
            await activity.aflush(chunk)


class _Chunker:
    """Core events in, LangChain chunks out, with client-side stop sequences applied."""

    __slots__ = ("_stops",)

    def __init__(self, stop: list[str] | None) -> None:
        self._stops = StopFilter(stop or ())

    @property
    def stopped(self) -> bool:
        return self._stops.stopped

    @property
    def filtering(self) -> bool:
        """Whether stop sequences are being watched (text then goes through the filter)."""
        return bool(self._stops)

    def of(self, event: StreamEvent) -> list[ChatGenerationChunk]:
        if self._stops and isinstance(event, TextDelta):
            text = self._stops.feed(event.text)
            return [text_chunk(text)] if text else []
        chunk = event_to_chunk(event)
        return [chunk] if chunk is not None else []

    def close(
        self, response: AgentResponse, timing: Mapping[str, float | None]
    ) -> list[ChatGenerationChunk]:
        """The held-back text (if any) and the closing chunk with the metadata."""
        out = self.of(TextDelta(self._stops.finish())) if self._stops else []
        return [*out, final_chunk(response, timing)]


class _StreamedTurn:
    """A streamed ``invoke``: chunks for the token callbacks (stamped with the run's message id,
    as LangChain's own streaming path does), then the whole answer from the core's linear-time
    builder, never by merging the chunks."""

    __slots__ = ("_chunker", "_stop", "message_id")

    def __init__(self, stop: list[str] | None, run_id: uuid.UUID | None) -> None:
        self._stop = stop
        self._chunker = _Chunker(stop)
        self.message_id = f"lc_run--{run_id}" if run_id is not None else None

    @property
    def stopped(self) -> bool:
        return self._chunker.stopped

    def chunks(self, event: StreamEvent) -> list[ChatGenerationChunk]:
        out = self._chunker.of(event)
        for chunk in out:
            chunk.message.id = self.message_id
        return out

    def close(
        self, response: AgentResponse, timing: Mapping[str, float | None]
    ) -> list[ChatGenerationChunk]:
        out = self._chunker.close(response, timing)
        for chunk in out:
            chunk.message.id = self.message_id
        return out

    def result(self, response: AgentResponse, timing: Mapping[str, float | None]) -> ChatResult:
        result = response_to_result(_apply_stop(response, self._stop), timing)
        result.generations[0].message.id = self.message_id
        return result


def _apply_stop(response: AgentResponse, stop: list[str] | None) -> AgentResponse:
    if not stop:
        return response
    text, _ = cut_at_stop(response.text, stop)
    return replace(response, text=text)


def _custom_event(activity: ToolActivity) -> tuple[str, dict[str, Any]]:
    data: dict[str, Any] = {"name": activity.name, "raw": dict(activity.raw)}
    if activity.phase == "call":
        data["arguments"] = activity.arguments
        return "lyzr_tool_call", data
    data["result"] = activity.result
    return "lyzr_tool_result", data


class _ActivityReporter:
    """Reports server-side tool activity as custom events of the chat model's own run.

    LangChain does not hand ``_stream`` its run manager; it stamps each chunk we yield with the
    run's id (``lc_run--<uuid>``) before passing it on. So the run id is read from the first
    yielded chunk, and activity seen before that is held until then.
    """

    def __init__(
        self, model: ChatLyzr, config: RunnableConfig, run_id: uuid.UUID | None = None
    ) -> None:
        self._model = model
        self._config = config
        self._run_id = run_id
        self._pending: list[ToolActivity] = []
        #: True once the run id is known and nothing waits: chunks need not be looked at.
        self.idle = run_id is not None

    def _learn(self, chunk: ChatGenerationChunk) -> bool:
        if self._run_id is None:
            message_id = chunk.message.id or ""
            if message_id.startswith("lc_run--"):
                try:
                    self._run_id = uuid.UUID(message_id.removeprefix("lc_run--"))
                except ValueError:
                    return False
        self.idle = self._run_id is not None and not self._pending
        return self._run_id is not None

    def _manager_args(self) -> dict[str, Any]:
        config, model = self._config, self._model
        return {
            "inheritable_callbacks": config.get("callbacks"),
            "local_callbacks": model.callbacks,
            "verbose": model.verbose,
            "inheritable_tags": config.get("tags"),
            "local_tags": model.tags,
            "inheritable_metadata": config.get("metadata"),
            "local_metadata": model.metadata,
        }

    def report(self, activity: ToolActivity) -> None:
        self._pending.append(activity)
        self.idle = False
        if self._run_id is not None:
            self._send()

    def flush(self, chunk: ChatGenerationChunk) -> None:
        if self._pending and self._learn(chunk):
            self._send()
        else:
            self._learn(chunk)

    def _send(self) -> None:
        manager = CallbackManager.configure(**self._manager_args())
        for activity in self._pending:
            manager.on_custom_event(*_custom_event(activity), run_id=self._run_id)
        self._pending.clear()
        self.idle = True

    async def areport(self, activity: ToolActivity) -> None:
        self._pending.append(activity)
        self.idle = False
        if self._run_id is not None:
            await self._asend()

    async def aflush(self, chunk: ChatGenerationChunk) -> None:
        if self._pending and self._learn(chunk):
            await self._asend()
        else:
            self._learn(chunk)

    async def _asend(self) -> None:
        manager = AsyncCallbackManager.configure(**self._manager_args())
        for activity in self._pending:
            await manager.on_custom_event(*_custom_event(activity), run_id=self._run_id)
        self._pending.clear()
        self.idle = True
