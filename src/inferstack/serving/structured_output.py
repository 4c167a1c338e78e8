"""Constrained output: tools, `tool_choice` and `response_format` become one JSON Schema for the engine.

With tools in play the model writes JSON only: a call `{"name": ..., "arguments": {...}}` (a list of
them under `tool_calls` when parallel calls are allowed) or, under `tool_choice: auto`, a plain answer
`{"content": "..."}`. llama.cpp (LLGuidance) constrains decoding to that schema, so arguments always
parse and match the tool's parameter schema; we validate once more before anything is returned.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from jsonschema import Draft202012Validator

from inferstack.core.errors import EngineError, InvalidRequestError
from inferstack.openai_api.chat import ChatCompletionRequest, NamedToolChoice, ToolDefinition
from inferstack.serving.tool_call_stream import StreamedCall, ToolCallStream

OutputMode = Literal["text", "json", "tools"]
_EMPTY_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


@dataclass(frozen=True)
class ParsedCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the client will receive it


@dataclass(frozen=True)
class ParsedOutput:
    content: str | None
    calls: list[ParsedCall]


@dataclass(frozen=True)
class OutputPlan:
    """What the engine must produce for one request, and how to read it back."""

    mode: OutputMode
    json_schema: dict[str, Any] | None = None
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    allow_content: bool = False
    parallel: bool = False
    instructions: str | None = None
    output_schema: dict[str, Any] | None = None  # what a complete `json` answer must satisfy

    def check_json(self, text: str) -> None:
        """A complete `json`-mode answer must parse and satisfy the requested schema; else it is an engine error."""
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EngineError(f"the engine returned output that is not the requested JSON: {exc}") from exc
        errors = sorted(Draft202012Validator(self.output_schema or {"type": "object"}).iter_errors(value), key=str)
        if errors:
            raise EngineError(f"the engine returned JSON that violates the requested schema: {errors[0].message}")

    def parse(self, text: str) -> ParsedOutput:
        """Read a complete constrained output back into content and validated tool calls."""
        if self.mode != "tools":
            return ParsedOutput(content=text, calls=[])
        stream = ToolCallStream()
        stream.feed(text)
        return self.finish(stream)

    def finish(self, stream: ToolCallStream) -> ParsedOutput:
        """Validate what a stream read: complete JSON, known tools, arguments matching their schemas."""
        try:
            json.loads(stream.buffer)
        except json.JSONDecodeError as exc:
            raise EngineError(f"the engine returned output that is not the constrained JSON: {exc}") from exc
        if not stream.calls:
            if stream.content is None:
                raise EngineError("the engine returned neither a tool call nor content")
            return ParsedOutput(content=stream.content, calls=[])
        for call in stream.calls:
            self._validate(call)
        return ParsedOutput(content=None, calls=[ParsedCall(c.id, c.name, c.arguments) for c in stream.calls])

    def _validate(self, call: StreamedCall) -> None:
        if call.name not in self.tools:
            raise EngineError(f"the engine returned a call to unknown tool '{call.name}'")
        arguments = json.loads(call.arguments)
        errors = sorted(Draft202012Validator(self.tools[call.name]).iter_errors(arguments), key=str)
        if errors:
            raise EngineError(f"the engine returned arguments that violate the tool schema: {errors[0].message}")


def plan_output(request: ChatCompletionRequest) -> OutputPlan:
    tools = request.tools or []
    choice = request.tool_choice if request.tool_choice is not None else ("auto" if tools else "none")
    if tools and choice != "none":
        return _tool_plan(tools, choice, parallel=request.parallel_tool_calls is True)
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return OutputPlan(mode="text")
    if fmt.type == "json_object" or fmt.json_schema is None or fmt.json_schema.schema_ is None:
        return OutputPlan(
            mode="json",
            json_schema=ANY_JSON_OBJECT,
            instructions="Answer with a JSON object.",
            output_schema={"type": "object"},
        )
    schema = fmt.json_schema.schema_
    reject_unsupported_keywords(schema, "response_format.json_schema.schema")
    return OutputPlan(
        mode="json",
        json_schema=closed_schema(schema),
        instructions="Answer with JSON that matches this JSON Schema:\n" + json.dumps(schema),
        output_schema=schema,
    )


# JSON Schema keywords constrained decoding (LLGuidance) cannot enforce; refused up front rather than ignored.
UNSUPPORTED_KEYWORDS = frozenset(
    {
        "propertyNames",
        "patternProperties",
        "minProperties",
        "maxProperties",
        "dependentRequired",
        "dependentSchemas",
        "if",
        "then",
        "else",
        "not",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "unevaluatedProperties",
        "unevaluatedItems",
    }
)


def reject_unsupported_keywords(schema: Any, param: str) -> None:
    """400 when a schema relies on a keyword the decoder cannot enforce (the output could silently violate it)."""
    if isinstance(schema, list):
        for item in schema:
            reject_unsupported_keywords(item, param)
        return
    if not isinstance(schema, dict):
        return
    found = sorted(UNSUPPORTED_KEYWORDS & set(schema))
    if found:
        raise InvalidRequestError(
            f"{param}: JSON Schema keyword(s) {found} cannot be enforced by constrained decoding; "
            "remove them or validate the output yourself",
            param=param,
        )
    for key, value in schema.items():
        if key in {"properties", "$defs", "definitions"} and isinstance(value, dict):
            for sub in value.values():
                reject_unsupported_keywords(sub, param)
        elif key not in {"const", "enum", "default", "examples"}:
            reject_unsupported_keywords(value, param)


# `json_object` output: any JSON object whose values nest at most two levels, with strings <= 256 chars and
# arrays <= 16 items, so values cannot run away. (LLGuidance cannot bound key length or key count: a model that
# rambles inside a key still stops at max_tokens with finish_reason "length", as OpenAI documents.)
_SCALAR: dict[str, Any] = {
    "anyOf": [{"type": "string", "maxLength": 256}, {"type": "number"}, {"type": "boolean"}, {"type": "null"}]
}
_INNER: dict[str, Any] = {
    "anyOf": [
        _SCALAR,
        {"type": "array", "items": _SCALAR, "maxItems": 16},
        {"type": "object", "additionalProperties": _SCALAR},
    ]
}
ANY_JSON_OBJECT: dict[str, Any] = {
    "type": "object",
    "additionalProperties": {"anyOf": [*_INNER["anyOf"], {"type": "array", "items": _INNER, "maxItems": 16}]},
}

# Bounds added to strings and arrays that set none, so a small model that starts repeating itself
# inside a value still finishes the call within its token budget. Values at these bounds remain valid.
GENERATION_MAX_STRING = 512
GENERATION_MAX_ITEMS = 32
MAX_PARALLEL_CALLS = 8


def closed_schema(schema: Any, *, inside_all_of: bool = False) -> Any:
    """A copy of `schema` that admits a subset of its values and always lets generation finish.

    Objects admit no undeclared properties unless they say otherwise; strings and arrays without a
    bound get `GENERATION_MAX_STRING` / `GENERATION_MAX_ITEMS`. Every value it accepts is accepted by
    the original too, so outputs stay valid. `allOf` branches stay open: closing one would reject
    properties declared in another.
    """
    if isinstance(schema, list):
        return [closed_schema(item, inside_all_of=inside_all_of) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("properties", "$defs", "definitions", "patternProperties"):
            result[key] = (
                {name: closed_schema(sub) for name, sub in value.items()} if isinstance(value, dict) else value
            )
        elif key in ("items", "prefixItems", "anyOf", "oneOf", "not", "additionalProperties"):
            result[key] = closed_schema(value)
        elif key == "allOf":
            result[key] = closed_schema(value, inside_all_of=True)
        else:
            result[key] = value
    is_object = result.get("type") == "object" or "properties" in result
    open_by_design = any(k in result for k in ("additionalProperties", "patternProperties", "allOf"))
    if is_object and not open_by_design and not inside_all_of and "properties" in result:
        result["additionalProperties"] = False
    kind = result.get("type")
    unbounded_string = kind == "string" and not any(k in result for k in ("maxLength", "enum", "const", "pattern"))
    if unbounded_string and "format" not in result and result.get("minLength", 0) <= GENERATION_MAX_STRING:
        result["maxLength"] = GENERATION_MAX_STRING
    if kind == "array" and "maxItems" not in result and result.get("minItems", 0) <= GENERATION_MAX_ITEMS:
        result["maxItems"] = GENERATION_MAX_ITEMS
    return result


def _supported(tool: ToolDefinition) -> dict[str, Any]:
    parameters = tool.function.parameters or _EMPTY_PARAMETERS
    reject_unsupported_keywords(parameters, f"tools.{tool.function.name}.parameters")
    return parameters


def _call_schema(tool: ToolDefinition) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "name": {"const": tool.function.name},
            "arguments": closed_schema(_supported(tool)),
        },
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def _tool_plan(tools: list[ToolDefinition], choice: str | NamedToolChoice, *, parallel: bool) -> OutputPlan:
    if isinstance(choice, NamedToolChoice):
        offered = [t for t in tools if t.function.name == choice.function.name]
    else:
        offered = tools
    calls = [_call_schema(t) for t in offered]
    one_call: dict[str, Any] = calls[0] if len(calls) == 1 else {"anyOf": calls}
    schema: dict[str, Any] = one_call
    if parallel:
        schema = {
            "type": "object",
            "properties": {
                "tool_calls": {"type": "array", "items": one_call, "minItems": 1, "maxItems": MAX_PARALLEL_CALLS}
            },
            "required": ["tool_calls"],
            "additionalProperties": False,
        }
    allow_content = choice == "auto"
    if allow_content:
        answer = {
            "type": "object",
            "properties": {"content": {"type": "string"}},
            "required": ["content"],
            "additionalProperties": False,
        }
        schema = {"anyOf": [schema, answer]}
    return OutputPlan(
        mode="tools",
        json_schema=schema,
        tools={t.function.name: t.function.parameters or _EMPTY_PARAMETERS for t in tools},
        allow_content=allow_content,
        parallel=parallel,
        instructions=_tool_instructions(offered, allow_content=allow_content, parallel=parallel),
    )


def _tool_instructions(tools: list[ToolDefinition], *, allow_content: bool, parallel: bool) -> str:
    lines = ["You can call these functions:"]
    for tool in tools:
        fn = tool.function
        params = json.dumps(fn.parameters or _EMPTY_PARAMETERS)
        lines.append(f"- {fn.name}: {fn.description or 'no description'}. Parameters (JSON Schema): {params}")
    call = '{"name": <function name>, "arguments": <arguments object>}'
    if parallel:
        lines.append(f'To call functions, reply with {{"tool_calls": [{call}, ...]}}.')
    else:
        lines.append(f"To call a function, reply with {call}.")
    if allow_content:
        lines.append('If no function is needed, reply with {"content": <your answer>}.')
    return "\n".join(lines)
