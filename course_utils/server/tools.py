"""Tool calls (OpenAI's ``tools``): how they reach the model, how its answer is held to them, and
how its text becomes ``tool_calls`` again.

A model calls a tool by writing text in a format its chat template taught it. SmolLM2's template
has no place for tools, so the course supplies one (``TOOL_TEMPLATE``, the ChatML turns SmolLM2
already uses, and the ``<tool_call>`` format of Hermes and Qwen models): the tools go into the
system turn as JSON, an assistant's earlier calls are written back as ``<tool_call>`` blocks, and a
tool's result is a ``tool`` turn. SmolLM2-135M was never trained on this format, so it calls tools
only because a grammar makes it (below): the calls are valid, their arguments may be nonsense.

``tool_constraint`` turns ``tool_choice`` into a grammar (``grammar.Constraint``):

- ``"required"`` or a named function: one ``<tool_call>`` block (several if
  ``parallel_tool_calls``), each a JSON object ``{"name": ..., "arguments": ...}`` whose arguments
  follow that function's JSON Schema;
- ``"auto"``: either such calls, or plain text that does not start with ``<`` (so the first
  character decides);
- ``"none"``: no grammar, and the tools are not shown to the model.

``parse_calls`` reads the blocks back into OpenAI's ``tool_calls`` (``arguments`` as a JSON
string, as OpenAI sends it).
"""

from __future__ import annotations

import json
import re
import uuid

from .grammar import JSON_LAYOUT, Constraint, InvalidConstraint

OPEN, CLOSE = "<tool_call>", "</tool_call>"
_CALL = re.compile(r"<tool_call>\s*(\{.*?\})\s*</tool_call>", re.DOTALL)

TOOL_TEMPLATE = r"""
{%- set system = messages[0].content if messages and messages[0].role == 'system'
    else 'You are a helpful AI assistant named SmolLM, trained by Hugging Face' -%}
{{- '<|im_start|>system\n' + system -}}
{%- if tools -%}
    {{- '\n\nYou can call these functions:\n<tools>' -}}
    {%- for tool in tools %}{{ '\n' + (tool | tojson) }}{% endfor -%}
    {{- '\n</tools>\nTo call one, answer with only:\n<tool_call>\n' -}}
    {{- '{"name": <the function\'s name>, "arguments": <its arguments as a JSON object>}\n</tool_call>' -}}
{%- endif -%}
{{- '<|im_end|>\n' -}}
{%- for message in messages -%}
    {%- if loop.first and message.role == 'system' -%}
    {%- elif message.role == 'assistant' and message.tool_calls -%}
        {{- '<|im_start|>assistant\n' -}}
        {%- if message.content %}{{ message.content + '\n' }}{% endif -%}
        {%- for call in message.tool_calls -%}
            {%- if not loop.first %}{{ '\n' }}{% endif -%}
            {{- '<tool_call>\n{"name": ' + (call.function.name | tojson) + ', "arguments": '
                + (call.function.arguments | tojson) + '}\n</tool_call>' -}}
        {%- endfor -%}
        {{- '<|im_end|>\n' -}}
    {%- else -%}
        {{- '<|im_start|>' + message.role + '\n' + (message.content or '') + '<|im_end|>\n' -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif -%}
"""


def _call_schema(function: dict) -> dict:
    """The JSON Schema of one call: ``{"name": <this function>, "arguments": <its parameters>}``."""
    parameters = function.get("parameters") or {"type": "object", "properties": {}}
    return {"type": "object", "properties": {"name": {"const": function["name"]}, "arguments": parameters},
            "required": ["name", "arguments"], "additionalProperties": False}


def tool_constraint(tools: list[dict], choice, parallel: bool) -> Constraint | None:
    """The grammar for ``tool_choice`` (see the module docstring); None for ``"none"``."""
    if choice == "none" or not tools:
        return None
    functions = [tool["function"] for tool in tools]
    if isinstance(choice, dict):  # {"type": "function", "function": {"name": ...}}
        name = choice["function"]["name"]
        functions = [f for f in functions if f["name"] == name]
        if not functions:
            raise InvalidConstraint(f"`tool_choice` names {name!r}, which is not in `tools`", "tool_choice")
    schemas = [_call_schema(f) for f in functions]
    schema = {"anyOf": schemas} if len(schemas) > 1 else schemas[0]
    schema = {**schema, "x-guidance": JSON_LAYOUT}  # the layout of response_format's JSON
    call = f'"{OPEN}\\n" %json {json.dumps(schema)} "\\n{CLOSE}"'
    calls = "call (\"\\n\" call)*" if parallel else "call"
    if choice == "auto":
        body = f"start: calls | text\ncalls: {calls}\ncall: {call}\ntext: /[^<][\\s\\S]*/\n"
    else:  # "required", or a named function
        body = f"start: {calls}\ncall: {call}\n"
    return Constraint("lark", body, "tools")


def parse_calls(text: str) -> tuple[str | None, list[dict]]:
    """``(content, tool_calls)`` from a model's answer: the ``<tool_call>`` blocks that hold a JSON
    object with a ``name``, as OpenAI's ``tool_calls``; the text outside them as ``content``
    (None when there is none)."""
    calls = []
    for found in _CALL.finditer(text):
        try:
            call = json.loads(found.group(1))
        except ValueError:
            continue
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            continue
        arguments = call.get("arguments", {})
        calls.append({"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                      "function": {"name": call["name"], "arguments": json.dumps(arguments)}})
    if not calls:
        return text, []
    rest = _CALL.sub("", text).strip()
    return (rest or None), calls


def template_messages(messages: list[dict]) -> list[dict]:
    """OpenAI's messages as the tool template reads them: a call's ``arguments`` as an object."""
    out = []
    for message in messages:
        message = dict(message)
        if message.get("tool_calls"):
            message["tool_calls"] = [
                {**call, "function": {**call["function"], "arguments": _arguments(call["function"])}}
                for call in message["tool_calls"]]
        out.append(message)
    return out


def _arguments(function: dict):
    value = function.get("arguments")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
