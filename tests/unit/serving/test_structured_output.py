"""Tools, tool_choice and response_format become the right schema, and outputs are validated."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from inferstack.core.errors import EngineError, InvalidRequestError
from inferstack.openai_api.chat import ChatCompletionRequest
from inferstack.serving.structured_output import ANY_JSON_OBJECT, closed_schema, plan_output

TOOL = {
    "type": "function",
    "function": {
        "name": "add",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}
OTHER = {"type": "function", "function": {"name": "noop"}}


def request(**fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": "x"}], **fields}
    )


def test_no_tools_is_plain_text() -> None:
    assert plan_output(request()).mode == "text"


def test_none_ignores_tools() -> None:
    assert plan_output(request(tools=[TOOL], tool_choice="none")).mode == "text"


@pytest.mark.parametrize("choice", ["auto", "required", {"type": "function", "function": {"name": "add"}}])
def test_tool_plans_are_valid_json_schemas(choice: object) -> None:
    plan = plan_output(request(tools=[TOOL, OTHER], tool_choice=choice))
    assert plan.mode == "tools" and plan.json_schema is not None
    Draft202012Validator.check_schema(plan.json_schema)
    validator = Draft202012Validator(plan.json_schema)
    assert validator.is_valid({"name": "add", "arguments": {"a": 1, "b": 2}})
    assert not validator.is_valid({"name": "add", "arguments": {"a": "one", "b": 2}})
    assert validator.is_valid({"content": "hi"}) is (choice == "auto")
    assert validator.is_valid({"name": "noop", "arguments": {}}) is (
        choice != {"type": "function", "function": {"name": "add"}}
    )


def test_parse_validates_arguments() -> None:
    plan = plan_output(request(tools=[TOOL], tool_choice="required"))
    parsed = plan.parse('{"name":"add","arguments":{"a":1,"b":2}}')
    assert parsed.calls[0].name == "add" and parsed.calls[0].arguments == '{"a":1,"b":2}'
    with pytest.raises(EngineError):
        plan.parse('{"name":"add","arguments":{"a":1}}')
    with pytest.raises(EngineError):
        plan.parse('{"name":"add","arguments":{"a":1,')


def test_json_schema_response_format() -> None:
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}
    plan = plan_output(request(response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}}))
    assert plan.mode == "json" and plan.json_schema == {**schema, "additionalProperties": False}
    bounded = closed_schema({"type": "array", "items": {"type": "string"}})
    assert bounded == {"type": "array", "items": {"type": "string", "maxLength": 512}, "maxItems": 32}
    assert closed_schema({"type": "string", "enum": ["a"]}) == {"type": "string", "enum": ["a"]}
    json_object = plan_output(request(response_format={"type": "json_object"}))
    assert json_object.json_schema == ANY_JSON_OBJECT and json_object.output_schema == {"type": "object"}
    with pytest.raises(InvalidRequestError, match="propertyNames"):
        plan_output(
            request(
                response_format={
                    "type": "json_schema",
                    "json_schema": {
                        "name": "x",
                        "schema": {"type": "object", "properties": {"a": {"type": "object", "propertyNames": {}}}},
                    },
                }
            )
        )
    with pytest.raises(EngineError, match="violates the requested schema"):
        plan_output(
            request(
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": {"type": "object", "required": ["a"]}},
                }
            )
        ).check_json('{"b": 1}')
    with pytest.raises(EngineError, match="not the requested JSON"):
        json_object.check_json('{"a": ')


@pytest.mark.parametrize(
    "fields",
    [
        {"tool_choice": "required"},
        {"tools": [TOOL, TOOL]},
        {"tools": [TOOL], "tool_choice": {"type": "function", "function": {"name": "missing"}}},
        {"tools": [{"type": "function", "function": {"name": "bad name!"}}]},
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}]},
        {"response_format": {"type": "json_schema"}},
    ],
)
def test_inconsistent_requests_are_rejected(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        request(**fields)


def test_closed_schema_only_narrows() -> None:
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "string"}}},
            "c": {"type": "object", "additionalProperties": True},
        },
        "allOf": [{"properties": {"d": {"type": "string"}}}],
    }
    closed = closed_schema(schema)
    assert "additionalProperties" not in closed  # allOf keeps the top level open
    assert closed["properties"]["a"]["additionalProperties"] is False
    assert closed["properties"]["c"]["additionalProperties"] is True
    assert closed["allOf"][0] == {"properties": {"d": {"type": "string", "maxLength": 512}}}
