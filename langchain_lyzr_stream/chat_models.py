"""``ChatLyzr``: a Lyzr agent as a LangChain chat model."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from operator import itemgetter
from typing import Any, Literal, TypeVar

from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    BaseCallbackManager,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import (
    BaseChatModel,
    LangSmithParams,
    LanguageModelInput,
    ModelProfile,
)
from langchain_core.load.serializable import SerializedConstructor, SerializedNotImplemented
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig, RunnableMap, RunnablePassthrough
from langchain_core.runnables.config import ensure_config, var_child_runnable_config
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from langchain_lyzr_stream._convert import to_core_messages
from langchain_lyzr_stream._media import media_of
from langchain_lyzr_stream._structured import JsonAnswerParser, ToolCallParser
from langchain_lyzr_stream._turn import ActivityReporter, Turn
from lyzr_stream import ToolSpec
from lyzr_stream._adapters import conversation
from lyzr_stream._adapters.model_fields import (
    LyzrModelFields,
    constructor_options,
)
from lyzr_stream._adapters.session_memory import aprepare_call, prepare_call
from lyzr_stream._adapters.structured import raw_json_schema
from lyzr_stream._adapters.tokens import approximate_token_count
from lyzr_stream._errors import InvalidRequestError
from lyzr_stream._http.limits import DEFAULT_TIMEOUTS, Timeouts
from lyzr_stream._request import check_json_serialisable
from lyzr_stream._settings import ENV_API_KEY
from lyzr_stream.dialects import get_dialect
from lyzr_stream.dialects._local_tools import normalize_tool_choice

__all__ = ["ChatLyzr"]

#: Keyword arguments LangChain itself may pass down; they are not call options.
#: What the v3 seam (:meth:`ChatLyzr.stream_events`) hands ``_stream``: the call options of
#: the config's ``configurable`` (and LangGraph's ``thread_id``), read where the call was made,
#: and whether ``with_structured_output`` made the call (v3 pops its marker before ``_stream``).
_V3_CONFIGURABLE = "lyzr_v3_configurable"
_V3_INTERNAL = "lyzr_v3_internal"
_FRAMEWORK_KWARGS = frozenset(
    {
        "stream",
        "ls_structured_output_format",
        "structured_output_format",
        _V3_CONFIGURABLE,
        _V3_INTERNAL,
    }
)
_POLICY_KWARGS = frozenset({"timeout", "max_retries"})
#: Set by bind_tools / with_structured_output.
_TOOL_KWARGS = frozenset({"tools", "tool_choice", "response_format"})
#: Per-call agent override: for ChatLyzr the agent is the model.
_AGENT_KWARGS = ("model", "agent_id")
_OPTION_KWARGS = frozenset(conversation.CALL_OPTION_NAMES)
#: What ``config["configurable"]`` contributes to a call: its call options and the thread.
_CONFIGURABLE_KEYS = (*conversation.CALL_OPTION_NAMES, "thread_id")
#: Constructor fields sent as JSON: checked at construction (a circular dict is an error there).
_JSON_FIELDS = (
    "system_prompt_variables",
    "filter_variables",
    "features",
    "dialect_options",
    "extra_body",
)

_T = TypeVar("_T")


class ChatLyzr(BaseChatModel, LyzrModelFields):
    """A Lyzr agent as a LangChain chat model, streaming token by token.

    Guide: the LangChain page of the documentation (`docs/langchain.md`); sessions, tools,
    files and errors have pages of their own.

    ???+ info "Setup"

        Install `lyzr-stream` with the LangChain extra and set environment variable
        `LYZR_API_KEY` (the key from Lyzr Studio).

        ```bash
        pip install -U "lyzr-stream[langchain]"
        export LYZR_API_KEY="your-api-key"
        ```

    ??? info "Key init args — agent params"

        | Param | Type | Description |
        | --- | --- | --- |
        | `agent_id` | `str` | The agent's id in Lyzr Studio (`model=` is an alias). |
        | `session_id` | `str | None` | The agent's memory to use; none: every call stateless. |
        | `user_id` | `str` | Defaults to `LYZR_USER_ID`, then `"default_user"`. |
        | `system_prompt_variables` | `dict` | Fill the placeholders of the agent's prompt. |
        | `message_mode` | `str` | `"auto"` (default), `"turn"` or `"history"`. |
        | `streaming` | `bool` | `invoke` reads the stream endpoint (token callbacks fire). |
        | `stop` | `list[str] | None` | Stop sequences, applied client-side. |
        | `agent_events` | `bool` | Merge the agent's server-side tools and progress. |

        The agent's model, temperature and token limits are set in Lyzr Studio:
        `temperature` and `max_tokens` are accepted and ignored with a warning.

    ??? info "Key init args — client params"

        | Param | Type | Description |
        | --- | --- | --- |
        | `api_key` | `SecretStr | None` | Defaults to `LYZR_API_KEY`. |
        | `base_url` | `str | None` | Defaults to `LYZR_BASE_URL`, else the dialect's. |
        | `dialect` | `str` | `"lyzr-v3"` (default), `"lyzr-v2"`, `"aisquare"`, ... |
        | `timeout` | `float | Timeouts | None` | `Timeouts()` by default; `None`: none. |
        | `max_retries` | `int` | 2; an agent run is re-sent only if it provably did not start. |
        | `default_headers` | `dict[str, str]` | Extra headers; values are treated as secrets. |

        Every argument, with its environment variable: the Configuration page.

    ??? info "Instantiate"

        ```python
        from langchain_lyzr_stream import ChatLyzr

        model = ChatLyzr(
            agent_id="YOUR_AGENT_ID",
            # session_id="support-42",
            # system_prompt_variables={"tone": "warm"},
            # api_key="...",  # or LYZR_API_KEY
            # timeout=None, max_retries=2,
        )
        ```

    ??? info "Invoke"

        ```python
        messages = [("system", "Be brief."), ("human", "What is Lyzr?")]
        model.invoke(messages)
        ```

        ```python
        AIMessage(
            content="Lyzr is a platform for building AI agents.",
            response_metadata={
                "model_provider": "lyzr",
                "model_name": "YOUR_AGENT_ID",
                "agent_id": "YOUR_AGENT_ID",
                "session_id": "YOUR_AGENT_ID-d5d2fd7c4f39",
                "user_id": "default_user",
                "message_id": "6e8b95ae-2a75-4646-a1bb-6e0fad71b0e5",
                "finish_reason": "stop",
                "service_metadata": {...},
                "time_to_first_token": 0.45,
                "total_time": 0.45,
            },
            id="lc_run--01a252ba-9196-7735-bbff-279c07855f99",
        )
        ```

        `usage_metadata` stays unset: the service reports no token counts.

    ??? info "Stream"

        ```python
        for chunk in model.stream(messages):
            print(chunk.text, end="")
        ```

        ```python
        AIMessageChunk(content="Lyzr is", id="lc_run--01a252ba-936a-...")
        AIMessageChunk(content=" a platform", id="lc_run--01a252ba-936a-...")
        ...
        AIMessageChunk(
            content="",
            response_metadata={"finish_reason": "stop", "session_id": "...", ...},
            chunk_position="last",
        )
        ```

        A chunk carries all the text received in one read (`coalesce=False`: one chunk per
        service event).

    ??? info "Async"

        ```python
        await model.ainvoke(messages)

        async for chunk in model.astream(messages):
            print(chunk.text, end="")

        await model.abatch([messages, messages])
        ```

    ??? info "Sessions"

        ```python
        model.invoke("My name is Ada", session_id="support-42")
        model.invoke("What is my name?", session_id="support-42")  # the agent remembers
        model.invoke("Hi", config={"configurable": {"session_id": "support-42"}})
        ```

        Without a session id (constructor, `configurable`, LangGraph's `thread_id` or per
        call) every call is stateless and sends the whole transcript.

    ??? info "Tool calling"

        ```python
        from pydantic import BaseModel, Field


        class GetWeather(BaseModel):
            '''Get the current weather in a given location.'''

            location: str = Field(..., description="The city, e.g. Paris")


        model_with_tools = model.bind_tools([GetWeather])
        model_with_tools.invoke("What is the weather in Paris?").tool_calls
        ```

        ```python
        [{"name": "GetWeather", "args": {"location": "Paris"}, "id": "call_995b...",
          "type": "tool_call"}]
        ```

        The tools go to the agent as Lyzr local tools (the agent needs that feature).

    ??? info "Structured output"

        ```python
        class Person(BaseModel):
            name: str
            city: str


        model.with_structured_output(Person).invoke("Ada lives in London.")
        # method="json_schema": the schema as response_format; "json_mode": any JSON object
        ```

        ```python
        Person(name="Ada", city="London")
        ```

    ??? info "Reasoning and response metadata"

        A `<think>...</think>` block arrives in `additional_kwargs["reasoning_content"]` and
        as a `reasoning` content block, never in `message.text`. `response_metadata` holds
        `agent_id` (also `model_name`), `session_id`, `user_id`, `message_id`,
        `finish_reason`, `artifacts`, `service_metadata`, `time_to_first_token` and
        `total_time`.
    """


    agent_id: str = Field(
        validation_alias=AliasChoices("agent_id", "model"),
        description="The agent's id in Lyzr Studio (``model=`` is accepted as its alias).",
    )
    api_key: SecretStr | None = Field(
        default=None, description="API key; defaults to the LYZR_API_KEY environment variable."
    )
    default_headers: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        exclude=True,
        description="Extra headers (values are secrets: never shown, dumped or pickled).",
    )
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

    @model_validator(mode="before")
    @classmethod
    def _one_agent(cls, data: Any) -> Any:
        both = isinstance(data, Mapping) and {"agent_id", "model"} <= data.keys()
        if both and data["agent_id"] != data["model"]:
            raise InvalidRequestError(
                f"agent_id={data['agent_id']!r} and model={data['model']!r} disagree: "
                "model is an alias of agent_id, give one of them"
            )
        return data

    @field_validator("timeout", "max_retries", mode="before")
    @classmethod
    def _no_loose_types(cls, value: Any, info: Any) -> Any:
        # pydantic would turn True into 1 and "5" into 5.0; the core refuses both, and so do we.
        if isinstance(value, (bool, str, bytes)):
            raise InvalidRequestError(
                f"{info.field_name} must be a number, not {type(value).__name__} ({value!r})"
            )
        return value

    def _check_fields(self) -> None:
        ignored = [n for n in ("temperature", "max_tokens") if getattr(self, n) is not None]
        if ignored:
            warnings.warn(
                f"ChatLyzr ignores {', '.join(ignored)}: a Lyzr agent's model settings are "
                "configured on the agent in Lyzr Studio",
                UserWarning,
                stacklevel=2,
            )
        # JSON values are checked now: a circular dict would otherwise surface as a
        # RecursionError when LangChain serialises the model for its callbacks.
        for name in _JSON_FIELDS:
            check_json_serialisable(getattr(self, name), name)

    # -- LangChain conventions -------------------------------------------------------------------
    def _resolve_model_profile(self) -> ModelProfile | None:
        """What a Lyzr agent can do over this model's wire format, whatever model the agent
        runs (a ``profile`` given to the constructor replaces it).

        ``structured_output``: the request's ``response_format`` (lyzr-adk's
        ``response_model``), so ``create_agent(model, tools, response_format=Schema)`` takes
        LangChain's provider strategy: the schema goes out as ``response_format`` next to the
        tools and the agent's final JSON answer is the ``structured_response``. Without it
        LangChain would take its tool strategy, which depends on ``tool_choice`` being
        honoured, and the documented protocol has no such field. ``tool_calling``: Lyzr local
        tools; ``tool_choice``: sent in the ``local_tools`` config (see ``bind_tools``). A
        dialect that carries only the message (``lyzr-v2``, ``aisquare``, ``chat-messages``)
        can send neither, and says so here.
        """
        cannot = get_dialect(self.dialect, self.dialect_options or None).unsupported_fields
        tools = "tools" not in cannot
        return ModelProfile(
            tool_calling=tools,
            tool_choice=tools,
            structured_output="response_format" not in cannot,
        )

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

    def to_json(self) -> SerializedConstructor | SerializedNotImplemented:
        """LangChain's form for ``dumpd``/``dumps``, with ``timeout`` in a form ``load`` reads.

        ``Serializable.to_json`` writes every truthy field as it is, and a
        ``lyzr_stream.Timeouts`` is no JSON (``dumps`` would write it as "not implemented",
        which ``load`` refuses). The default timeout is left out, as the former default
        ``None`` was: a loaded model gets the library's defaults of its own version. Any other
        ``Timeouts`` is written as its parts, a dict the field accepts.
        """
        data = super().to_json()
        if data["type"] == "constructor" and isinstance(self.timeout, Timeouts):
            kwargs = data["kwargs"]
            if self.timeout == DEFAULT_TIMEOUTS:
                kwargs.pop("timeout", None)
            else:
                kwargs["timeout"] = asdict(self.timeout)
        return data

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "lyzr"
        params["ls_model_name"] = self._agent_for(kwargs)
        params["ls_model_type"] = "chat"
        return params

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        params = super()._get_invocation_params(stop=stop, **kwargs)
        for private in ("api_key", "default_headers"):
            params.pop(private, None)
        try:
            options = self._options(ensure_config(), kwargs)
        except InvalidRequestError:
            return params
        params.update({k: v for k, v in options.request_fields().items() if v})
        return params

    # -- token counting: LangChain's approximation (the agent's tokenizer is not known) ----------
    def get_num_tokens(self, text: str) -> int:
        """About one token per four characters (``count_tokens_approximately``'s ratio)."""
        return approximate_token_count(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """LangChain's ``count_tokens_approximately``: no tokenizer to install, and an estimate
        only (the agent's model, and so its tokenizer, is chosen in Lyzr Studio)."""
        return count_tokens_approximately(messages, tools=list(tools) if tools else None)

    # -- the seams langchain-core forces ---------------------------------------------------------
    # ChatLyzr is built on the documented hooks (_generate, _agenerate, _stream, _astream), which
    # read the call's config with ensure_config(): langchain_core/runnables/config.py fills it
    # from the context variable var_child_runnable_config, where LCEL and LangGraph put each
    # step's config. The public methods below are overridden only where langchain-core does not
    # hand that config, or the run manager, to the hooks; each says which behaviour it answers.
    # All of them were checked against langchain-core 1.4.1 (the lowest supported) and the
    # newest; tests/langchain/test_seams.py tests each one on both (CI runs the two).
    # Each is a shell around langchain-core's own method: ``stop`` and the other keyword
    # arguments pass through unchanged.
    def invoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Seam: a ``config`` given to ``invoke`` reaches ``_generate``.

        ``BaseChatModel.invoke`` (langchain_core/language_models/chat_models.py) hands only
        the config's callbacks, tags, metadata and run name on to ``generate_prompt``; its
        ``configurable`` (session id, user id, variables, LangGraph's ``thread_id``) never
        reaches ``_generate``, which reads the config with ``ensure_config()``. So the config
        is placed in the context (``var_child_runnable_config``) for the call, as LCEL would,
        and reset after it. ``batch`` calls ``invoke`` per input, so it is served too.
        """
        with _config_context(config):
            return super().invoke(input, config, **kwargs)

    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AIMessage:
        """Seam: a ``config`` given to ``ainvoke`` reaches ``_agenerate``.

        The async form of :meth:`invoke`'s seam: ``BaseChatModel.ainvoke`` hands only the
        callbacks, tags, metadata and run name to ``agenerate_prompt``. ``abatch`` calls
        ``ainvoke`` per input.
        """
        with _config_context(config):
            return await super().ainvoke(input, config, **kwargs)

    def stream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Iterator[AIMessageChunk]:
        """Seam: a ``config`` given to ``stream`` reaches ``_stream``.

        ``BaseChatModel.stream`` calls ``self._stream(messages, stop=stop, **kwargs)`` without
        the run manager and without putting ``config`` in the context. ``_stream`` needs two
        things from it: the ``configurable`` (session options) and the callbacks, to which
        server-side tool activity and agent events go as custom events of the run
        (``ActivityReporter`` in ``langchain_lyzr_stream/_turn.py`` configures them from the
        config as ``stream`` does). The config is placed in the context for the generator's
        first step, where ``_stream`` starts and reads it, and reset before the first chunk
        leaves: between chunks the caller's own context is untouched.
        """
        chunks = super().stream(input, config, **kwargs)
        return chunks if config is None else _started_in_context(config, chunks)

    def astream(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[AIMessageChunk]:
        """Seam: a ``config`` given to ``astream`` reaches ``_astream``.

        The async form of :meth:`stream`'s seam (``BaseChatModel.astream`` calls ``_astream``
        without the run manager or the config). ``astream_events(version="v1"/"v2")`` runs
        through ``astream`` with its own callbacks in the config, so it is served too.
        """
        chunks = super().astream(input, config, **kwargs)
        return chunks if config is None else _astarted_in_context(config, chunks)

    def stream_events(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        """Seam: the session options of a ``config`` given to ``stream_events(version="v3")``.

        For v3, ``BaseChatModel.stream_events`` returns a ``ChatModelStream``
        (``_chat_model_stream_v3``) that calls ``_stream`` later, on its first pump, outside
        any context this method could set; of ``config`` it uses only the callbacks, tags,
        metadata and run name (``_stream`` gets the run manager, so callbacks need nothing
        here). The call options of ``config["configurable"]`` (and LangGraph's ``thread_id``)
        are therefore read now and handed to ``_stream`` as the configurable layer they are
        (not as per-call options: a structured-output call in a thread still runs stateless),
        with the mark of a ``with_structured_output`` call, which v3 removes before
        ``_stream``. Other versions pass through (``Runnable.stream_events`` goes through
        ``astream``, see :meth:`astream`).
        """
        return super().stream_events(input, config, **self._v3_options(config, kwargs))

    def astream_events(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Any:
        """Seam: the async form of :meth:`stream_events`'s (``_achat_model_stream_v3`` starts
        its producer task on the first read, after this method has returned)."""
        return super().astream_events(input, config, **self._v3_options(config, kwargs))

    def _v3_options(
        self, config: RunnableConfig | None, kwargs: dict[str, Any]
    ) -> dict[str, Any]:
        if kwargs.get("version") != "v3":
            return kwargs
        extra: dict[str, Any] = {}
        configurable: Mapping[str, Any] = (config or {}).get("configurable") or {}
        layer = {name: configurable[name] for name in _CONFIGURABLE_KEYS if name in configurable}
        if layer:
            extra[_V3_CONFIGURABLE] = layer
        marked = kwargs.get("ls_structured_output_format") or kwargs.get(
            "structured_output_format"
        )
        if marked is not None:
            extra[_V3_INTERNAL] = True
        return {**kwargs, **extra} if extra else kwargs

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
        return conversation.resolve_call_options(
            constructor_options(self),
            configurable,
            kwargs,
            fallback_session_id=self._session_fallback(configurable),
        )

    def _builder(
        self, messages: Sequence[BaseMessage], kwargs: dict[str, Any], config: RunnableConfig
    ) -> Callable[[conversation.MemoryLookup], conversation.ModelCall]:
        """How this call's :class:`ModelCall` is built (the request, files not yet uploaded;
        the policy kwargs for the client; the call's files) from the session record, for
        :func:`~lyzr_stream._adapters.session_memory.prepare_call`. ``config`` is the call's
        LangChain config (its ``configurable`` is the middle layer of call options)."""
        accepted = _OPTION_KWARGS | _POLICY_KWARGS | _TOOL_KWARGS | set(_AGENT_KWARGS)
        conversation.check_call_kwargs(
            kwargs, owner="ChatLyzr", accepted=accepted, ignored=_FRAMEWORK_KWARGS
        )
        configurable: Mapping[str, Any] = kwargs.get(_V3_CONFIGURABLE) or (
            config.get("configurable") or {}
        )
        core = to_core_messages(messages)
        agent_id = self._agent_for(kwargs)
        tools = [ToolSpec.from_openai(t) for t in kwargs.get("tools") or ()]
        media = [media_of(m) for m in messages]
        # with_structured_output marks its calls: they are the framework's, not a turn.
        internal = (
            kwargs.get("ls_structured_output_format") is not None
            or kwargs.get(_V3_INTERNAL) is True
        )

        def build(memory: conversation.MemoryLookup) -> conversation.ModelCall:
            return conversation.build_model_call(
                core,
                agent_id=agent_id,
                option_layers=(constructor_options(self), configurable, kwargs),
                message_mode=self.message_mode,
                fallback_session_id=self._session_fallback(configurable),
                tools=tools,
                tool_choice=kwargs.get("tool_choice"),
                response_format=(
                    raw_json_schema(kwargs["response_format"])
                    if kwargs.get("response_format") is not None
                    else None
                ),
                policy=kwargs,
                media=media,
                dialect=self.client.settings.dialect,
                memory=memory,
                internal=internal,
            )

        return build

    # -- tools and structured output --------------------------------------------------------------
    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools the agent may ask this process to run (Lyzr "local tools").

        Accepts LangChain tools, pydantic models, functions and OpenAI-format dicts.
        ``tool_choice``: ``"auto"`` (default), ``"any"``/``"required"``/``True`` (must call
        one), ``"none"``, or a tool name; it travels in the ``local_tools`` feature config,
        which agents may or may not honour. Bound calls send the whole transcript.
        ``strict`` is accepted as ``ChatOpenAI`` accepts it (``create_agent``'s provider
        strategy passes ``strict=True`` in langchain 1.2) and has no effect: the local-tools
        protocol has no strict mode.
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
        ``method="json_schema"`` sends the raw JSON schema as the request's ``response_format``
        (as lyzr-adk does) and parses the JSON answer; ``method="json_mode"`` asks for any JSON
        object (``{"type": "json_object"}``) and parses it. The JSON may be the whole answer,
        in a Markdown fence or inside prose.

        An answer that does not fit (no call to the schema's tool, no JSON, JSON that does not
        validate) raises ``OutputParserException`` carrying the agent's text; with
        ``include_raw=True`` the result is ``{"raw", "parsed": None, "parsing_error"}`` instead.
        The parsed object comes once the answer is complete, also when streaming.
        """
        kwargs.pop("strict", None)
        if method not in ("function_calling", "json_schema", "json_mode"):
            raise InvalidRequestError(
                f"method must be 'function_calling', 'json_schema' or 'json_mode', got {method!r}"
            )
        if kwargs:
            raise InvalidRequestError(f"unsupported arguments {sorted(kwargs)}")
        model = schema if isinstance(schema, type) and is_basemodel_subclass(schema) else None
        parser: Runnable[Any, Any]
        if method == "function_calling":
            tool_name = convert_to_openai_tool(schema)["function"]["name"]
            llm = self.bind_tools(
                [schema],
                tool_choice="any",
                ls_structured_output_format={
                    "kwargs": {"method": method},
                    "schema": convert_to_openai_tool(schema),
                },
            )
            parser = ToolCallParser(tool_name=tool_name, schema_model=model)
        else:
            json_schema = convert_to_json_schema(schema)
            response_format: dict[str, Any] = {"type": "json_object"}
            if method == "json_schema":
                # lyzr-adk's form: the model's own JSON schema, not OpenAI's wrapper around it.
                response_format = (
                    schema.model_json_schema()
                    if isinstance(schema, type) and issubclass(schema, BaseModel)
                    else json_schema
                )
            llm = self.bind(
                response_format=response_format,
                ls_structured_output_format={"kwargs": {"method": method}, "schema": json_schema},
            )
            parser = JsonAnswerParser(schema_model=model)
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
        """Seam: a streamed ``invoke`` stays on ``_generate``, with its run manager.

        ``BaseChatModel._generate_with_cache`` asks ``_should_stream`` whether ``invoke``/
        ``generate`` should stream (``streaming=True``, or a streaming callback handler, as
        ``astream_events`` and LangGraph's ``messages`` mode attach); if so it calls
        ``_stream`` without the run manager and merges every chunk with
        ``generate_from_stream``, which takes time quadratic in the number of chunks (in one
        measurement, a streamed ``invoke`` of 50,000 one-word chunks took 7.8 s that way and
        2.5 s here). Only ``stream``/``astream`` (which pass
        ``stream=True``) get langchain-core's own answer; ``invoke``/``generate`` always reach
        ``_generate``/``_agenerate`` with their run manager, which, when streaming is wanted
        (:meth:`_wants_stream`), read the same stream as ``_stream`` (the same token
        callbacks, the run's message id) and build the answer from the core's response in
        linear time.
        """
        if kwargs.get("stream"):
            return super()._should_stream(async_api=async_api, run_manager=run_manager, **kwargs)
        return False

    def _wants_stream(
        self,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
        kwargs: Mapping[str, Any],
    ) -> bool:
        return super()._should_stream(async_api=False, run_manager=run_manager, **kwargs)

    def _turn(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> Turn:
        """One call's request and state. The stop rule: a per-call ``stop`` (``[]`` included)
        replaces the instance's; ``None`` inherits it."""
        config = ensure_config()  # the call's config: see "A config passed directly" above
        call = prepare_call(self.client, self._builder(messages, kwargs, config))
        return self._turn_of(call, stop, run_manager, config)

    async def _aturn(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> Turn:
        """Async :meth:`_turn` (a session's memory, when it must be read, is read async)."""
        config = ensure_config()
        call = await aprepare_call(self.client, self._builder(messages, kwargs, config))
        return self._turn_of(call, stop, run_manager, config)

    def _turn_of(
        self,
        call: conversation.ModelCall,
        stop: list[str] | None,
        run_manager: CallbackManagerForLLMRun | AsyncCallbackManagerForLLMRun | None,
        config: RunnableConfig,
    ) -> Turn:

        def configure(is_async: bool) -> BaseCallbackManager:
            # The handlers of a stream()/astream() run, configured as langchain-core does.
            manager = AsyncCallbackManager if is_async else CallbackManager
            return manager.configure(
                config.get("callbacks"),
                self.callbacks,
                self.verbose,
                config.get("tags"),
                self.tags,
                config.get("metadata"),
                self.metadata,
            )

        effective = stop if stop is not None else self.stop
        activity = ActivityReporter(run_manager, configure)
        policy = dict(call.policy)
        interval = self.task_poll_interval if self.run_as_task else None
        return Turn(
            call.request, policy, effective, run_manager, activity, call.attachments, interval
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        turn = self._turn(messages, stop, run_manager, kwargs)
        if not self._wants_stream(run_manager, kwargs):
            return turn.whole(self.client)
        for _ in turn.stream(self.client):
            pass
        return turn.result()

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        turn = await self._aturn(messages, stop, run_manager, kwargs)
        if not self._wants_stream(run_manager, kwargs):
            return await turn.awhole(self.client)
        async for _ in turn.astream(self.client):
            pass
        return turn.result()

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        return self._turn(messages, stop, run_manager, kwargs).stream(self.client)

    def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        return self._astream_turn(messages, stop, run_manager, kwargs)

    async def _astream_turn(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None,
        run_manager: AsyncCallbackManagerForLLMRun | None,
        kwargs: dict[str, Any],
    ) -> AsyncIterator[ChatGenerationChunk]:
        turn = await self._aturn(messages, stop, run_manager, kwargs)
        chunks = turn.astream(self.client)
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()  # an early exit reaches the stream (and its stop request)


@contextmanager
def _config_context(config: RunnableConfig | None) -> Iterator[None]:
    """``config`` as what ``ensure_config()`` returns, for the duration (None: leave it be)."""
    if config is None:
        yield
        return
    token = var_child_runnable_config.set(ensure_config(config))
    try:
        yield
    finally:
        var_child_runnable_config.reset(token)


def _started_in_context(config: RunnableConfig, chunks: Iterator[_T]) -> Iterator[_T]:
    """``chunks`` with its first step (where the call starts) run in ``config``'s context."""
    try:
        with _config_context(config):
            first = next(chunks, _END)
        if first is _END:
            return
        yield first
        yield from chunks
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


async def _astarted_in_context(
    config: RunnableConfig, chunks: AsyncIterator[_T]
) -> AsyncIterator[_T]:
    """Async :func:`_started_in_context` (set and reset happen within one step, one task)."""
    try:
        with _config_context(config):
            first = await anext(chunks, _END)
        if first is _END:
            return
        yield first
        async for chunk in chunks:
            yield chunk
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


_END: Any = object()
