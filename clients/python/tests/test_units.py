"""The client's parts that need no server: error mapping, actions, results, URLs, optional
dependencies."""

import importlib
import os
import re
import subprocess
import sys
import types
import unittest
from typing import Any, Dict

from support import hgym

from hgym import errors, results, retry

DOCS_ERRORS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "errors.md")
PACKAGE_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


class ErrorMapping(unittest.TestCase):
    def test_every_documented_code_has_its_own_class(self) -> None:
        with open(DOCS_ERRORS, encoding="utf-8") as f:
            documented = set(re.findall(r"^\| `(HGYM_ERR_[A-Z_]+)` \|", f.read(), re.M))
        self.assertTrue(documented, "docs/errors.md lists codes")
        self.assertEqual(documented, set(hgym.ERROR_CLASSES))
        self.assertEqual(len(set(hgym.ERROR_CLASSES.values())), len(hgym.ERROR_CLASSES), "one class per code")

    def test_the_class_comes_from_the_code_never_the_message(self) -> None:
        err = errors.error_from_body({"status_code": 409, "code": "HGYM_ERR_EPISODE_ENDED", "error": "Conflict", "message": "not found at all"})
        self.assertIsInstance(err, hgym.EpisodeEnded)
        self.assertEqual((err.code, err.status, err.message), ("HGYM_ERR_EPISODE_ENDED", 409, "not found at all"))
        self.assertIsInstance(errors.error_from_body({"code": "HGYM_ERR_NOT_FOUND", "message": "episode ended"}), hgym.NotFound)
        capacity = errors.error_from_body({"code": "HGYM_ERR_CAPACITY", "message": "full"}, status=503, retry_after=2.0)
        self.assertIsInstance(capacity, hgym.Capacity)
        self.assertIsInstance(capacity, hgym.Unavailable)
        self.assertEqual(capacity.retry_after, 2.0)
        self.assertIsInstance(errors.error_from_body({"code": "HGYM_ERR_SANDBOX_LOST", "message": "x"}, status=502), hgym.SandboxError)

    def test_an_unknown_code_keeps_its_family_and_code(self) -> None:
        err = errors.error_from_body({"code": "HGYM_ERR_SOMETHING_NEW", "message": "later"}, status=503)
        self.assertIs(type(err), hgym.Unavailable)
        self.assertEqual(err.code, "HGYM_ERR_SOMETHING_NEW")
        self.assertIs(type(errors.error_from_body({"code": "HGYM_ERR_ODD", "message": "?"}, status=418)), hgym.HGymError)

    def test_an_answer_that_is_not_hgym_is_a_transport_error(self) -> None:
        err = errors.error_from_body(None, status=502)
        self.assertIsInstance(err, hgym.TransportError)
        self.assertIsNone(err.code)
        self.assertEqual(err.status, 502)


class Actions(unittest.TestCase):
    def test_normalize(self) -> None:
        self.assertEqual(results.normalize_action("hello"), {"message": "hello"})
        self.assertEqual(results.normalize_action({"tool": "think", "arguments": {"thought": "x"}}), {"tool": "think", "arguments": {"thought": "x"}})
        with self.assertRaises(TypeError):
            results.normalize_action(42)  # type: ignore[arg-type]

    def test_openai_tool_calls(self) -> None:
        call = {"id": "call_1", "type": "function", "function": {"name": "execute_bash", "arguments": '{"command": "ls"}'}}
        self.assertEqual(hgym.action_from_tool_call(call), {"tool": "execute_bash", "arguments": {"command": "ls"}})
        self.assertEqual(hgym.action_from_tool_call({"function": {"name": "finish", "arguments": ""}}), {"tool": "finish", "arguments": {}})
        parsed = {"id": "c", "type": "function", "function": {"name": "think", "arguments": {"thought": "t"}}}
        self.assertEqual(hgym.action_from_tool_call(parsed), {"tool": "think", "arguments": {"thought": "t"}})
        responses = {"type": "function_call", "call_id": "call_2", "name": "think", "arguments": '{"thought": "r"}'}
        self.assertEqual(hgym.action_from_tool_call(responses), {"tool": "think", "arguments": {"thought": "r"}})

    def test_tool_calls_as_objects(self) -> None:
        # The SDKs' objects are read by attribute (pydantic models, dataclasses, ...).
        function = types.SimpleNamespace(name="think", arguments='{"thought": "o"}')
        chat = types.SimpleNamespace(id="call_3", type="function", function=function)
        item = types.SimpleNamespace(type="function_call", call_id="call_4", name="think", arguments='{"thought": "o"}')
        for call in (chat, function, item):
            self.assertEqual(hgym.action_from_tool_call(call), {"tool": "think", "arguments": {"thought": "o"}})

        class Dumped:  # neither a mapping nor the attributes: its model_dump() is read
            def model_dump(self) -> Dict[str, Any]:
                return {"type": "function", "function": {"name": "finish", "arguments": "{}"}}

        self.assertEqual(hgym.action_from_tool_call(Dumped()), {"tool": "finish", "arguments": {}})

    def test_a_malformed_tool_call_is_a_value_error_that_says_what(self) -> None:
        cases = [
            ({"function": {"name": "x", "arguments": "{not json"}}, "not valid JSON"),
            ({"function": {"name": "x", "arguments": "[1]"}}, "not a JSON object but a JSON list"),
            ({"function": {"name": "x", "arguments": 7}}, "are a int"),
            ({"function": {"arguments": "{}"}}, "no function name"),
            ({"type": "custom", "custom": {"name": "x", "input": "y"}}, "not a function call"),
            (object(), "no function name"),
        ]
        for call, complaint in cases:
            with self.subTest(call=call):
                with self.assertRaises(ValueError) as caught:
                    hgym.action_from_tool_call(call)
                self.assertIn(complaint, str(caught.exception))

    def test_a_step_result_unpacks_like_gymnasium(self) -> None:
        r = hgym.StepResult.from_json({"observation": {"text": "ok"}, "reward": 1, "terminated": True, "truncated": False, "info": {"step": 3}})
        obs, reward, terminated, truncated, info = r
        self.assertEqual((obs, reward, terminated, truncated, info), ("ok", 1.0, True, False, {"step": 3}))
        self.assertEqual([type(x) for x in r], [str, float, bool, bool, dict])
        self.assertTrue(r.done)
        episode_id, observation, info = hgym.ResetResult.from_json({"episode_id": "e", "observation": {"text": "do"}, "info": {"task": "t"}})
        self.assertEqual((episode_id, observation, info), ("e", "do", {"task": "t"}))


class Helpers(unittest.TestCase):
    def test_websocket_url(self) -> None:
        self.assertEqual(hgym.websocket_url("http://127.0.0.1:8000/"), "ws://127.0.0.1:8000/v1/ws")
        self.assertEqual(hgym.websocket_url("https://gym.example/prefix"), "wss://gym.example/prefix/v1/ws")
        with self.assertRaises(ValueError):
            hgym.websocket_url("ftp://x")

    def test_retry_after(self) -> None:
        self.assertEqual(retry.parse_retry_after("3"), 3.0)
        self.assertIsNone(retry.parse_retry_after(None))
        self.assertIsNone(retry.parse_retry_after("soon"))
        self.assertAlmostEqual(retry.parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0) or 0, 6.0)

    def test_backoff_grows_and_is_capped(self) -> None:
        policy = hgym.RetryPolicy(backoff=1, max_backoff=4, jitter=False, max_retry_after=10)
        self.assertEqual([policy.delay(n) for n in (1, 2, 3, 4)], [1, 2, 4, 4])
        self.assertEqual(policy.delay(1, retry_after=30), 10)


class OptionalDependencies(unittest.TestCase):
    def run_python(self, code: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
        return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)

    def test_without_websockets_the_rest_client_works_and_async_says_what_to_install(self) -> None:
        code = "\n".join(
            [
                "import sys",
                "sys.modules['websockets'] = None",  # makes `import websockets` fail
                "import hgym",
                "hgym.Client('http://127.0.0.1:1')",
                "try:",
                "    hgym.AsyncClient('http://127.0.0.1:1')",
                "except ImportError as err:",
                "    print('ImportError:', err)",
            ]
        )
        out = self.run_python(code)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("ImportError:", out.stdout)
        self.assertIn("python3-websockets", out.stdout)
        self.assertIn("pip install websockets", out.stdout)

    def test_without_gymnasium_the_env_is_a_plain_class(self) -> None:
        out = self.run_python("import sys; sys.modules['gymnasium'] = None; import hgym; print(hgym.HAS_GYMNASIUM, hgym.HGymEnv.__mro__[1].__name__)")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.split(), ["False", "object"])

    def test_with_gymnasium_the_env_and_spaces_subclass_it(self) -> None:
        # A stand-in with the parts of gymnasium's API the env uses (Env, spaces.Space).
        fake = types.ModuleType("gymnasium")
        fake_spaces = types.ModuleType("gymnasium.spaces")

        class Space:
            def __init__(self, shape=None, dtype=None, seed=None):  # noqa: ANN001
                self.shape, self.dtype = shape, dtype

        class Env:
            def reset(self, *, seed=None, options=None):  # noqa: ANN001
                self.seeded = seed

        fake_spaces.Space = Space  # type: ignore[attr-defined]
        fake.spaces = fake_spaces  # type: ignore[attr-defined]
        fake.Env = Env  # type: ignore[attr-defined]
        saved = {name: sys.modules.get(name) for name in ("gymnasium", "gymnasium.spaces")}
        sys.modules["gymnasium"], sys.modules["gymnasium.spaces"] = fake, fake_spaces
        try:
            importlib.reload(importlib.import_module("hgym.spaces"))
            env_module = importlib.reload(importlib.import_module("hgym.env"))
            self.assertTrue(env_module.HAS_GYMNASIUM)
            # The env asks its client for the server's tools at construction.
            env = env_module.HGymEnv(client=types.SimpleNamespace(tools=lambda: []), task="func_localize")
            self.assertIsInstance(env, Env)
            self.assertIsInstance(env.action_space, Space)
            self.assertIsInstance(env.observation_space, Space)
            self.assertIn("some text", env.observation_space)
            self.assertFalse(env.action_space.is_np_flattenable)
        finally:
            for name, module in saved.items():
                if module is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = module
            importlib.reload(importlib.import_module("hgym.spaces"))
            importlib.reload(importlib.import_module("hgym.env"))


if __name__ == "__main__":
    unittest.main()
