"""action_from_tool_call on the openai SDK's own objects: Chat Completions tool calls and
their functions, Responses API function_call items, and what a model gets wrong. Needs the
openai package, so it is not part of the stdlib suite (its name does not start with test):
test/clients/openai-sdk.test.ts runs it in a venv that has the SDK."""

import json
import unittest
from typing import Any, Dict, List

from openai.types.chat import ChatCompletion, ChatCompletionMessageFunctionToolCall
from openai.types.chat.chat_completion_message_function_tool_call import Function
from openai.types.responses import Response, ResponseFunctionToolCall

from support import hgym


def completion(tool_calls: List[Dict[str, Any]]) -> ChatCompletion:
    """A chat completion as the API returns it, parsed by the SDK."""
    message = {"role": "assistant", "content": None, "tool_calls": tool_calls}
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "some-model",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None, "message": message}],
        }
    )


def function_call(call_id: str, name: str, arguments: str) -> Dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


class ChatCompletions(unittest.TestCase):
    def test_the_sdks_tool_calls_and_their_functions(self) -> None:
        calls = completion(
            [function_call("call_1", "execute_bash", json.dumps({"command": "ls -la"})), function_call("call_2", "finish", "")]
        ).choices[0].message.tool_calls
        assert calls is not None
        self.assertTrue(all(isinstance(c, ChatCompletionMessageFunctionToolCall) for c in calls))
        expected = [{"tool": "execute_bash", "arguments": {"command": "ls -la"}}, {"tool": "finish", "arguments": {}}]
        self.assertEqual([hgym.action_from_tool_call(c) for c in calls], expected)
        functions = [c.function for c in calls if isinstance(c, ChatCompletionMessageFunctionToolCall)]
        self.assertTrue(all(isinstance(f, Function) for f in functions))
        self.assertEqual([hgym.action_from_tool_call(f) for f in functions], expected)
        self.assertEqual([hgym.action_from_tool_call(c.model_dump()) for c in calls], expected, "and as dumped dicts")

    def test_arguments_that_are_not_json_are_a_value_error_naming_the_tool(self) -> None:
        calls = completion([function_call("call_1", "execute_bash", '{"command": "ls"')]).choices[0].message.tool_calls
        assert calls is not None
        with self.assertRaises(ValueError) as caught:
            hgym.action_from_tool_call(calls[0])
        self.assertIn("execute_bash", str(caught.exception))
        self.assertIn("not valid JSON", str(caught.exception))
        calls = completion([function_call("call_1", "think", '["a list"]')]).choices[0].message.tool_calls
        assert calls is not None
        with self.assertRaises(ValueError) as caught:
            hgym.action_from_tool_call(calls[0])
        self.assertIn("not a JSON object", str(caught.exception))

    def test_a_custom_tool_call_is_not_an_action(self) -> None:
        calls = completion([{"id": "call_3", "type": "custom", "custom": {"name": "grammar_tool", "input": "x"}}]).choices[0].message.tool_calls
        assert calls is not None
        self.assertEqual(type(calls[0]).__name__, "ChatCompletionMessageCustomToolCall")
        with self.assertRaises(ValueError) as caught:
            hgym.action_from_tool_call(calls[0])
        self.assertIn("not a function call", str(caught.exception))


class ResponsesApi(unittest.TestCase):
    def test_function_call_items(self) -> None:
        response = Response.model_validate(
            {
                "id": "resp_1",
                "object": "response",
                "created_at": 1_700_000_000,
                "model": "some-model",
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "output": [
                    {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [{"type": "output_text", "text": "Looking.", "annotations": []}]},
                    {"type": "function_call", "id": "fc_1", "call_id": "call_9", "name": "think", "arguments": '{"thought": "hm"}', "status": "completed"},
                    {"type": "function_call", "id": "fc_2", "call_id": "call_10", "name": "execute_bash", "arguments": '{"command": "pytest -q"}'},
                ],
            }
        )
        items = [item for item in response.output if isinstance(item, ResponseFunctionToolCall)]
        self.assertEqual(len(items), 2)
        self.assertEqual(
            [hgym.action_from_tool_call(item) for item in items],
            [{"tool": "think", "arguments": {"thought": "hm"}}, {"tool": "execute_bash", "arguments": {"command": "pytest -q"}}],
        )
        broken = ResponseFunctionToolCall.model_validate({"type": "function_call", "call_id": "c", "name": "think", "arguments": "{thought: hm}"})
        with self.assertRaises(ValueError) as caught:
            hgym.action_from_tool_call(broken)
        self.assertIn("think", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
