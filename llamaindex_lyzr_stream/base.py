"""``LyzrLLM``: a Lyzr agent as a LlamaIndex LLM."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from types import FrameType
from typing import Any, Generic, Literal, TypeVar

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.instrumentation import get_dispatcher  # type: ignore[attr-defined]
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMStructuredPredictEndEvent,
    LLMStructuredPredictInProgressEvent,
    LLMStructuredPredictStartEvent,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.program.function_program import get_function_tool
from llama_index.core.prompts import BasePromptTemplate, PromptTemplate
from llama_index.core.tools.types import BaseTool
from llama_index.core.types import Model
from pydantic import Field, PrivateAttr, SecretStr, ValidationError

from llamaindex_lyzr_stream._convert import (
    Accumulator,
    chat_to_completion,
    keep_first_tool_call,
    one_shot_timing,
    parse_structured,
    to_chat_response,
    to_core_messages,
    tool_selections,
)
from llamaindex_lyzr_stream._media import media_of
from llamaindex_lyzr_stream.agent_events import to_instrumentation_event
from llamaindex_lyzr_stream.session import SessionScope, scoped_layers
from lyzr_stream import (
    AgentEvent,
    AgentRequest,
    AgentResponse,
    AsyncEventStream,
    EventStream,
    ToolActivity,
    ToolSpec,
)
from lyzr_stream._adapters import conversation
from lyzr_stream._adapters.model_fields import (
    LyzrModelFields,
    constructor_options,
)
from lyzr_stream._adapters.session_memory import aprepare_call, prepare_call, record_answer
from lyzr_stream._adapters.structured import raw_json_schema
from lyzr_stream._adapters.tasks import (
    AsyncTaskEventStream,
    TaskEventStream,
    atask_stream,
    task_stream,
)
from lyzr_stream._adapters.tokens import approximate_tokenize
from lyzr_stream._errors import InvalidRequestError
from lyzr_stream._events import StreamEvent

__all__ = ["LyzrLLM", "LyzrToolActivityEvent"]

dispatcher = get_dispatcher(__name__)

_ACCEPTED = (
    *conversation.CALL_OPTION_NAMES,
    *conversation.POLICY_NAMES,
    "tools",
    "tool_choice",
    "response_format",
)
#: Keyword arguments LlamaIndex components pass to every LLM; they mean nothing to an agent.
_IGNORED_KWARGS = frozenset({"formatted", "allow_parallel_tool_calls"})


class LyzrToolActivityEvent(BaseEvent):
    """A tool the agent ran on the server (reported by the ``chat-messages`` dialect).

    Dispatched on the LlamaIndex instrumentation dispatcher while streaming; never a tool call
    for the client to run.
    """

    phase: str
    tool_name: str
    arguments: Any = None
    result: Any = None
    session_id: str | None = None

    @classmethod
    def class_name(cls) -> str:
        return "LyzrToolActivityEvent"


#: Where LlamaIndex's chat engines rewrite the user's question with the chat history (the
#: condense prompt of ``condense_plus_context`` and ``condense_question``): a call made from
#: one of these is the framework's own, not a turn of the conversation.
_CONDENSE_FUNCTIONS = frozenset({"_condense_question", "_acondense_question"})
_CHAT_ENGINES = "llama_index.core.chat_engine."


#: Where a query engine's template held the question: the question follows as the user's turn.
_QUESTION_BELOW = "(the question follows)"


def _condensing(depth: int = 24) -> bool:
    """Whether this call comes from a chat engine's question condensing (a few frames up: the
    engine's ``_condense_question`` calls ``llm.complete``/``predict``, through LlamaIndex's
    callback and instrumentation wrappers)."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(depth):
        if frame is None:
            return False
        code = frame.f_code
        if code.co_name in _CONDENSE_FUNCTIONS and str(
            frame.f_globals.get("__name__", "")
        ).startswith(_CHAT_ENGINES):
            return True
        frame = frame.f_back
    return False


def _tool_spec(tool: BaseTool | ToolSpec | Mapping[str, Any]) -> ToolSpec:
    """A LlamaIndex tool (or a ToolSpec, or an OpenAI-format dict) as the core's ToolSpec."""
    if isinstance(tool, ToolSpec):
        return tool
    if isinstance(tool, BaseTool):
        spec = tool.metadata.to_openai_tool(skip_length_check=True)
    elif isinstance(tool, Mapping):
        spec = dict(tool)
    else:
        raise InvalidRequestError(
            f"tools must be LlamaIndex tools, ToolSpecs or OpenAI-format dicts, got "
            f"{type(tool).__name__}"
        )
    return ToolSpec.from_openai(spec)


R = TypeVar("R", ChatResponse, CompletionResponse)
_CHAT = (Accumulator.chat, Accumulator.final_chat)
_COMPLETION = (Accumulator.completion, Accumulator.final_completion)


class LyzrLLM(FunctionCallingLLM, LyzrModelFields):
    """A Lyzr agent as a LlamaIndex LLM, streaming token by token.

    A `FunctionCallingLLM`: `complete`, `chat`, their streaming and async forms, tool calling
    and structured output; it works as `Settings.llm`, in query and chat engines,
    `FunctionAgent`, `AgentWorkflow` and workflows. Guide: the LlamaIndex page of the
    documentation (`docs/llamaindex.md`).

    Examples:
        `pip install "lyzr-stream[llamaindex]"`, and set `LYZR_API_KEY` (the key from Lyzr
        Studio).

        ```python
        from llama_index.core.llms import ChatMessage
        from llamaindex_lyzr_stream import LyzrLLM

        llm = LyzrLLM(agent_id="YOUR_AGENT_ID")  # api_key from LYZR_API_KEY

        response = llm.complete("What is Lyzr?")
        print(response.text)

        for r in llm.stream_chat([ChatMessage(role="user", content="Tell me a story")]):
            print(r.delta, end="", flush=True)
        ```

        A session (the agent's memory), for the engines and agents that call the LLM:

        ```python
        with llm.session(session_id="support-42", system_prompt_variables={"name": "Ada"}):
            print(llm.complete("What is my name?").text)
        ```

        Async:

        ```python
        response = await llm.acomplete("What is Lyzr?")
        async for r in await llm.astream_complete("What is Lyzr?"):
            print(r.delta, end="")
        ```

        As the LLM of a `FunctionAgent` with a tool that runs in your process:

        ```python
        from llama_index.core.agent.workflow import FunctionAgent
        from llama_index.core.tools import FunctionTool


        def multiply(a: int, b: int) -> int:
            '''Multiply two integers.'''
            return a * b


        agent = FunctionAgent(tools=[FunctionTool.from_defaults(multiply)], llm=llm)
        print(await agent.run(user_msg="What is 6 times 7?"))
        ```

    Without a session id (constructor, `llm.session(...)` or per call) every call is
    stateless: a fresh server session and the whole transcript. Results carry `session_id`,
    `message_id`, `finish_reason`, `artifacts` and timing in `additional_kwargs`; reasoning
    becomes a `ThinkingBlock`. `context_window` (128,000) and `num_output` (4,096) only guide
    LlamaIndex's prompt packing: the agent's model decides the real limits.
    """

    api_key: SecretStr | None = Field(
        default=None, exclude=True, description="API key; defaults to LYZR_API_KEY."
    )
    default_headers: dict[str, str] = Field(
        default_factory=dict,
        exclude=True,
        repr=False,
        description="Extra headers on every request (secrets: never in repr, dumps or pickles).",
    )
    structured_output: Literal["tool_call", "response_format"] = Field(
        default="tool_call",
        description=(
            "How structured_predict and its streamed forms ask: 'tool_call' (a forced tool "
            "call) or 'response_format' (the raw JSON schema, as lyzr-adk's response_model)."
        ),
    )
    context_window: int = Field(default=128_000, description="Guide for prompt packing.")
    num_output: int = Field(default=4_096, description="Guide for prompt packing.")

    _scope_owner: str = PrivateAttr(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def class_name(cls) -> str:
        return "LyzrLLM"

    @property
    def tokenizer(self) -> Callable[[str], list[int]]:
        """An approximate tokenizer (about four characters per token, LangChain's rule), with no
        dependency and no download: ``Settings.tokenizer = llm.tokenizer``, or
        ``ChatMemoryBuffer.from_defaults(llm=llm, tokenizer_fn=llm.tokenizer)``."""
        return approximate_tokenize

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(
            context_window=self.context_window,
            num_output=self.num_output,
            is_chat_model=True,
            is_function_calling_model=True,
            model_name=self.agent_id,
        )

    # -- sessions --------------------------------------------------------------------------------
    def session(self, **options: Any) -> SessionScope:
        """Scope call options over every call this LLM makes inside the block.

        ``with llm.session(session_id="s1", system_prompt_variables={"name": "Ada"}):``, also
        ``async with``. Accepts the call option names only.
        """
        unknown = set(options) - set(conversation.CALL_OPTION_NAMES)
        if unknown:
            raise InvalidRequestError(
                f"session() got unknown option(s) {sorted(unknown)}; use "
                f"{list(conversation.CALL_OPTION_NAMES)}"
            )
        # The values are type-checked now, not at the first call.
        conversation.resolve_call_options(options)
        return SessionScope(self._scope_owner, options)

    def _builder(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> Callable[[conversation.MemoryLookup], conversation.ModelCall]:
        """How this call's :class:`ModelCall` is built (the request, files not yet uploaded;
        the policy kwargs for the client; the call's files) from the session record, for
        :func:`~lyzr_stream._adapters.session_memory.prepare_call`. The options are read now,
        where the call is made (a ``with llm.session(...)`` around it applies)."""
        conversation.check_call_kwargs(
            kwargs, owner="LyzrLLM", accepted=_ACCEPTED, ignored=_IGNORED_KWARGS
        )
        core = to_core_messages(messages)
        layers = (
            constructor_options(self),
            *scoped_layers(self._scope_owner),
            {k: kwargs.get(k) for k in conversation.CALL_OPTION_NAMES},
        )
        tools = [_tool_spec(t) for t in kwargs.get("tools") or ()]
        response_format = (
            raw_json_schema(kwargs["response_format"])
            if kwargs.get("response_format") is not None
            else None
        )
        media = [media_of(m) for m in messages]
        internal = _condensing()

        def build(memory: conversation.MemoryLookup) -> conversation.ModelCall:
            return conversation.build_model_call(
                core,
                agent_id=self.agent_id,
                option_layers=layers,
                message_mode=self.message_mode,
                tools=tools,
                tool_choice=kwargs.get("tool_choice"),
                response_format=response_format,
                policy=kwargs,
                media=media,
                dialect=self.client.settings.dialect,
                memory=memory,
                internal=internal,
            )

        return build

    def _model_call(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> conversation.ModelCall:
        """This call's :class:`ModelCall`, the session's memory read first if the rule says."""
        return prepare_call(self.client, self._builder(messages, kwargs))

    async def _amodel_call(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> conversation.ModelCall:
        """Async :meth:`_model_call`."""
        return await aprepare_call(self.client, self._builder(messages, kwargs))

    # -- tools ------------------------------------------------------------------------------------
    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        messages = list(chat_history or [])
        if isinstance(user_msg, str):
            user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
        if user_msg is not None:
            messages.append(user_msg)
        if tool_choice is None and tool_required:
            tool_choice = "any"
        return {"messages": messages, "tools": list(tools), "tool_choice": tool_choice, **kwargs}

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        return response if allow_parallel_tool_calls else keep_first_tool_call(response)

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The tool calls the agent asked for (``ToolCallBlock``s of the response message)."""
        selections = tool_selections(response.message)
        if not selections and error_on_no_tool_call:
            raise ValueError(
                "expected at least one tool call in the response, got none; the agent answered: "
                f"{(response.message.content or '')[:200]!r}"
            )
        return selections

    # -- structured output per request (response_format) ----------------------------------------
    # structured_predict and astructured_predict differ only in sending (chat / achat).
    def _structured_request(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None,
        prompt_args: Mapping[str, Any],
    ) -> tuple[list[ChatMessage], dict[str, Any]]:
        """The messages and call kwargs that ask for ``output_cls`` as ``response_format``."""
        dispatcher.event(
            LLMStructuredPredictStartEvent(
                output_cls=output_cls, template=prompt, template_args=dict(prompt_args)
            )
        )
        messages = self._extend_messages(prompt.format_messages(**prompt_args))
        return messages, {**(llm_kwargs or {}), "response_format": output_cls}

    def _streamed_structured_request(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None,
        prompt_args: Mapping[str, Any],
    ) -> tuple[list[ChatMessage], dict[str, Any], _StructuredStream[Model]]:
        """The messages and ``stream_chat`` kwargs of a streamed structured call, and what reads
        its responses: the schema as ``response_format``, or (``structured_output="tool_call"``)
        as a tool the agent must call, ``tool_choice="any"`` as ``structured_predict`` sends it.
        """
        kwargs = dict(llm_kwargs or {})
        for name in ("tool_required", "tool_choice", "allow_parallel_tool_calls"):
            kwargs.pop(name, None)
        messages, kwargs = self._structured_request(output_cls, prompt, kwargs, prompt_args)
        if self.structured_output == "response_format":
            return messages, kwargs, _StructuredStream(output_cls, tool_name=None)
        kwargs.pop("response_format")
        tool = get_function_tool(output_cls)
        chat_kwargs = self._prepare_chat_with_tools(
            [tool], chat_history=messages, tool_required=True, **kwargs
        )
        return (
            chat_kwargs.pop("messages"),
            chat_kwargs,
            _StructuredStream(output_cls, tool.metadata.name),
        )

    @staticmethod
    def _structured_result(output_cls: type[Model], response: ChatResponse) -> Model:
        result = parse_structured(response.message.content or "", output_cls)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return result

    @dispatcher.span
    def structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """As LlamaIndex's; with ``structured_output="response_format"`` the schema goes out as
        the request's ``response_format`` and the answer's JSON (alone, fenced, or with prose
        around it) is parsed into ``output_cls`` (a ``ValueError`` carrying the answer when it
        does not fit)."""
        if self.structured_output != "response_format":
            result: Model = super().structured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return result
        messages, kwargs = self._structured_request(output_cls, prompt, llm_kwargs, prompt_args)
        return self._structured_result(output_cls, self.chat(messages, **kwargs))

    @dispatcher.span
    async def astructured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Model:
        """Async form of :meth:`structured_predict`."""
        if self.structured_output != "response_format":
            result: Model = await super().astructured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
            return result
        messages, kwargs = self._structured_request(output_cls, prompt, llm_kwargs, prompt_args)
        return self._structured_result(output_cls, await self.achat(messages, **kwargs))

    # Streamed: each complete object as soon as the agent's answer holds one; the last one is the
    # complete object, or the stream ends in a ValueError carrying the agent's answer (never an
    # object with its fields missing).
    @dispatcher.span
    def stream_structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Model, None, None]:
        """As LlamaIndex's, with the schema asked for as :meth:`structured_predict` asks: a tool
        the agent must call (``tool_choice="any"``), or with ``structured_output=
        "response_format"`` the raw JSON schema as ``response_format``. Yields complete objects
        only; an answer without the tool call or without fitting JSON raises ``ValueError``
        carrying the agent's answer."""
        messages, kwargs, reader = self._streamed_structured_request(
            output_cls, prompt, llm_kwargs, prompt_args
        )
        responses = self.stream_chat(messages, **kwargs)

        def objects() -> Generator[Model, None, None]:
            try:
                for response in responses:
                    yield from reader.step(response)
                yield from reader.finish()
            finally:
                responses.close()  # left early: the stream closes now (and the agent is stopped)

        return objects()

    @dispatcher.span
    async def astream_structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Model, None]:
        """Async form of :meth:`stream_structured_predict`."""
        messages, kwargs, reader = self._streamed_structured_request(
            output_cls, prompt, llm_kwargs, prompt_args
        )
        responses = await self.astream_chat(messages, **kwargs)

        async def objects() -> AsyncGenerator[Model, None]:
            try:
                async for response in responses:
                    for item in reader.step(response):
                        yield item
                for item in reader.finish():
                    yield item
            finally:
                await responses.aclose()

        return objects()

    @staticmethod
    def _prompt_messages(prompt: str) -> list[ChatMessage]:
        if not isinstance(prompt, str):
            raise InvalidRequestError(f"prompt must be a string, got {type(prompt).__name__}")
        return [ChatMessage(role=MessageRole.USER, content=prompt)]

    def _in_session(self) -> bool:
        """A session id is set where a prompt's messages are made (constructor or a
        ``with llm.session(...)`` around the call; ``predict`` takes no call options)."""
        layers = (constructor_options(self), *scoped_layers(self._scope_owner))
        return conversation.resolve_call_options(*layers).session_id is not None

    def _get_messages(self, prompt: BasePromptTemplate, **prompt_args: Any) -> list[ChatMessage]:
        """In a session, a query engine's prompt (``predict``/``stream`` with a ``query_str``)
        as context and the user's words: the template's text around the question goes to the
        context block (system text, cut off by the history readers), the question alone is the
        user's turn. So the session's memory holds the question, not the template with the
        retrieved context. Any other prompt, and every prompt of a stateless call (where
        nothing is stored), is formatted as LlamaIndex formats it."""
        # Response synthesizers fill the question in ahead (``partial_format(query_str=...)``).
        query = prompt_args.get("query_str", prompt.kwargs.get("query_str"))
        if isinstance(query, str) and query.strip() and self._in_session():
            marked = super()._get_messages(
                prompt.partial_format(query_str=_QUESTION_BELOW),
                **{**prompt_args, "query_str": _QUESTION_BELOW},
            )
            last = marked[-1] if marked else None
            if last is not None and last.role == MessageRole.USER and _QUESTION_BELOW in (
                last.content or ""
            ):
                return [
                    *marked[:-1],
                    ChatMessage(role=MessageRole.SYSTEM, content=last.content),
                    ChatMessage(role=MessageRole.USER, content=query),
                ]
        return super()._get_messages(prompt, **prompt_args)

    # -- one-shot --------------------------------------------------------------------------------
    def _chat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatResponse:
        call = self._model_call(messages, kwargs)
        # The files are uploaded now: a failed upload sends nothing.
        request = call.attachments.attach(self.client, call.request)
        started = time.monotonic()
        if self.run_as_task:
            return self._answered(self._task_answer(request, call.policy), started)
        return self._answered(self.client.chat(request, **call.policy), started)

    async def _achat(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> ChatResponse:
        call = await self._amodel_call(messages, kwargs)
        request = await call.attachments.aattach(self.client, call.request)
        started = time.monotonic()
        if self.run_as_task:
            return self._answered(await self._atask_answer(request, call.policy), started)
        return self._answered(await self.client.achat(request, **call.policy), started)

    # -- background tasks (run_as_task; see lyzr_stream/_adapters/tasks.py) --
    def _task_answer(self, request: AgentRequest, policy: Mapping[str, Any]) -> AgentResponse:
        """The task's answer; its progress dispatched as it comes (its tool activity is
        dispatched with the answer, by ``_answered``)."""
        with task_stream(self.client, request, policy, self.task_poll_interval) as events:
            for event in events:
                if isinstance(event, AgentEvent):
                    dispatcher.event(to_instrumentation_event(event, events.session_id))
            return events.response()

    async def _atask_answer(
        self, request: AgentRequest, policy: Mapping[str, Any]
    ) -> AgentResponse:
        events = atask_stream(self.client, request, policy, self.task_poll_interval)
        async with events:
            async for event in events:
                if isinstance(event, AgentEvent):
                    dispatcher.event(to_instrumentation_event(event, events.session_id))
            return events.response()

    def _answered(self, response: AgentResponse, started: float) -> ChatResponse:
        """A one-shot answer as LlamaIndex's response, its server-side tool activity dispatched."""
        self._dispatch_activity(response.tool_activity, response.session_id)
        record_answer(self.client, response.session_id, response.text)
        return to_chat_response(response, one_shot_timing(started))

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._chat(messages, kwargs)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return chat_to_completion(self._chat(self._prompt_messages(prompt), kwargs))

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return await self._achat(messages, kwargs)

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return chat_to_completion(await self._achat(self._prompt_messages(prompt), kwargs))

    # -- streaming -------------------------------------------------------------------------------
    # The model call is built when the method is called (so a `with llm.session(...)` around the
    # call applies even if the generator is consumed later); the generators only do I/O.
    def _dispatch_activity(self, activity: Sequence[ToolActivity], session_id: str) -> None:
        for item in activity:
            dispatcher.event(
                LyzrToolActivityEvent(
                    phase=item.phase,
                    tool_name=item.name,
                    arguments=item.arguments,
                    result=item.result,
                    session_id=session_id,
                )
            )

    def _respond(
        self,
        acc: Accumulator,
        event: StreamEvent,
        session_id: str,
        step: Callable[[Accumulator, StreamEvent], R | None],
    ) -> R | None:
        """What one event becomes: the next response, if any, after dispatching what the
        instrumentation bus should see (the agent's events, server-side tool activity)."""
        if isinstance(event, AgentEvent):
            dispatcher.event(to_instrumentation_event(event, session_id))
            return None
        response = step(acc, event)
        if response is not None and isinstance(event, ToolActivity):
            self._dispatch_activity((event,), session_id)
        return response

    # The sync and async loops only do the I/O; each event's work is _respond.
    def _responses(
        self,
        events: EventStream | TaskEventStream,
        step: Callable[[Accumulator, StreamEvent], R | None],
        final: Callable[[Accumulator, AgentResponse, Mapping[str, float | None]], R],
    ) -> Generator[R, None, None]:
        """One stream's events as LlamaIndex responses (chat or completion: ``step``/``final``)."""
        acc = Accumulator()
        with events:
            for event in events:
                response = self._respond(acc, event, events.session_id, step)
                if response is not None:
                    yield response
            answer = events.response()
            record_answer(self.client, answer.session_id, answer.text)
            yield final(acc, answer, events.stats.timing())

    async def _aresponses(
        self,
        events: AsyncEventStream | AsyncTaskEventStream,
        step: Callable[[Accumulator, StreamEvent], R | None],
        final: Callable[[Accumulator, AgentResponse, Mapping[str, float | None]], R],
    ) -> AsyncGenerator[R, None]:
        acc = Accumulator()
        async with events:
            async for event in events:
                response = self._respond(acc, event, events.session_id, step)
                if response is not None:
                    yield response
            answer = events.response()
            record_answer(self.client, answer.session_id, answer.text)
            yield final(acc, answer, events.stats.timing())

    def _open(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> EventStream | TaskEventStream:
        call = self._model_call(messages, kwargs)
        request = call.attachments.attach(self.client, call.request)
        if self.run_as_task:
            return task_stream(self.client, request, call.policy, self.task_poll_interval)
        return self.client.stream(request, **call.policy)

    async def _aopen(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> AsyncEventStream | AsyncTaskEventStream:
        call = await self._amodel_call(messages, kwargs)
        request = await call.attachments.aattach(self.client, call.request)
        if self.run_as_task:
            return atask_stream(self.client, request, call.policy, self.task_poll_interval)
        return self.client.astream(request, **call.policy)

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._responses(self._open(messages, kwargs), *_CHAT)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return self._responses(self._open(self._prompt_messages(prompt), kwargs), *_COMPLETION)

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        return self._aresponses(await self._aopen(messages, kwargs), *_CHAT)

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        events = await self._aopen(self._prompt_messages(prompt), kwargs)
        return self._aresponses(events, *_COMPLETION)


class _StructuredStream(Generic[Model]):
    """Reads a streamed structured call's responses into ``output_cls`` objects: complete ones
    only, each once. ``tool_name``: the call to that tool carries the object; ``None``: the
    answer's JSON does (``response_format``), read once the answer is whole."""

    def __init__(self, output_cls: type[Model], tool_name: str | None) -> None:
        self.output_cls = output_cls
        self.tool_name = tool_name
        self.last: ChatResponse | None = None
        self.yielded: Model | None = None

    def _arguments(self, response: ChatResponse) -> dict[str, Any] | None:
        calls = [s for s in tool_selections(response.message) if s.tool_name == self.tool_name]
        return dict(calls[0].tool_kwargs) if calls else None

    def _emit(self, item: Model) -> list[Model]:
        if self.yielded is not None and item == self.yielded:
            return []
        self.yielded = item
        dispatcher.event(LLMStructuredPredictInProgressEvent(output=item))
        return [item]

    def step(self, response: ChatResponse) -> list[Model]:
        """The object this response completes, if any (tool calls arrive whole)."""
        self.last = response
        arguments = self._arguments(response) if self.tool_name is not None else None
        if arguments is None:
            return []
        try:
            return self._emit(self.output_cls.model_validate(arguments))
        except ValidationError:
            return []  # not complete (yet): finish() says why if it stays so

    def finish(self) -> list[Model]:
        """The complete object of the whole answer; ``ValueError`` carrying the agent's answer
        when it holds none."""
        if self.last is None:
            raise ValueError(f"structured output for {self.output_cls.__name__}: no answer")
        text = self.last.message.content or ""
        if self.tool_name is None:
            result = parse_structured(text, self.output_cls)
        else:
            arguments = self._arguments(self.last)
            if arguments is None:
                raise ValueError(
                    f"expected a call to the tool {self.tool_name!r} (structured output for "
                    f"{self.output_cls.__name__}), got none; the agent answered: {text[:2000]!r}"
                )
            result = parse_structured(json.dumps(arguments), self.output_cls)
        emitted = self._emit(result)
        dispatcher.event(LLMStructuredPredictEndEvent(output=result))
        return emitted
