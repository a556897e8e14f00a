"""Shared by the client's tests: where the live servers are, and a gold answer to apply.

The live tests need a running hgym server with real sandboxes; test/clients/python.test.ts
starts one on the `shapes` fixture corpus and sets, for this process:

- ``HGYM_URL``: an open server;
- ``HGYM_AUTH_URL`` and ``HGYM_TEST_API_KEY``: a server that needs that bearer key;
- ``HGYM_SMALL_URL``: a server that takes one episode at a time;
- ``HGYM_GOLD``: a JSON file with a func_localize instance and its gold docstrings.

Without them the live tests are skipped, and only the unit tests run.
"""

import json
import os
import re
import sys
import unittest
from typing import Any, Awaitable, Callable, Dict, Generator

# The package under test is the one in this checkout, installed or not.
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import hgym  # noqa: E402


FINISH = {"tool": "finish", "arguments": {}}


def bash(command: str) -> Dict[str, Any]:
    return {"tool": "execute_bash", "arguments": {"command": command}}


def has_websockets() -> bool:
    try:
        import websockets  # noqa: F401
    except ImportError:
        return False
    return True


NEEDS_WEBSOCKETS = unittest.skipUnless(has_websockets(), "the websockets package is not installed for this Python")


def env_or_skip(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise unittest.SkipTest(f"{name} is not set: no live hgym server (see tests/support.py)")
    return value


def live_url() -> str:
    return env_or_skip("HGYM_URL")


def gold() -> Dict[str, Any]:
    with open(env_or_skip("HGYM_GOLD"), encoding="utf-8") as f:
        return json.load(f)


def docstring_literal(text: str, indent: str) -> str:
    """A triple-quoted docstring for ``text``, indented, safe whatever the text holds."""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    lines = [line if i == 0 or line == "" else indent + line for i, line in enumerate(body.split("\n"))]
    closing = "\n" + indent if len(lines) > 1 else ""
    return f'{indent}"""' + "\n".join(lines) + f'{closing}"""'


def locate_command(path: str, def_line: int) -> str:
    """A bash command printing where a function's body starts: ``<line before> <indent>``."""
    py = "\n".join(
        [
            "import ast",
            f"src = open({path!r}).read()",
            "n = [n for n in ast.walk(ast.parse(src)) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))"
            f" and n.lineno == {def_line}][0]",
            "print(n.body[0].lineno - 1, n.body[0].col_offset)",
        ]
    )
    return f"python3 - <<'EOF'\n{py}\nEOF"


def gold_agent(answer: Dict[str, Any]) -> Generator[Dict[str, Any], str, None]:
    """The gold answer as the steps an agent would take, as a generator that yields actions
    and is sent each observation's text: per target (bottom-up, so an insert does not move
    the targets above it) find where the body starts with execute_bash, insert the
    docstring with str_replace_editor; then finish."""
    for target in sorted(answer["targets"], key=lambda t: (t["file"], -t["line"])):
        path = f"{answer['workspace']}/{target['file']}"
        out = yield bash(locate_command(path, target["line"]))
        m = re.search(r"^(\d+) (\d+)$", out, re.M)
        if not m:
            raise AssertionError(f"cannot locate {target['qualname']}: {out}")
        after, indent = int(m.group(1)), int(m.group(2))
        new_str = docstring_literal(target["docstring"], " " * indent)
        obs = yield {"tool": "str_replace_editor", "arguments": {"command": "insert", "path": path, "insert_line": after, "new_str": new_str}}
        if not obs.startswith("The file"):
            raise AssertionError(f"insert refused: {obs}")
    yield FINISH


def drive(agent: Generator[Dict[str, Any], str, None], step: Callable[[Dict[str, Any]], Any]) -> Any:
    """Runs a generator agent to its end with ``step(action) -> StepResult``; returns the
    last result."""
    action = next(agent)
    while True:
        result = step(action)
        try:
            action = agent.send(result.observation)
        except StopIteration:
            return result


async def drive_async(agent: Generator[Dict[str, Any], str, None], step: Callable[[Dict[str, Any]], Awaitable[Any]]) -> Any:
    """``drive`` with an async ``step``."""
    action = next(agent)
    while True:
        result = await step(action)
        try:
            action = agent.send(result.observation)
        except StopIteration:
            return result




__all__ = ["hgym", "NEEDS_WEBSOCKETS", "env_or_skip", "live_url", "gold", "gold_agent", "drive", "drive_async", "docstring_literal", "FINISH", "bash"]
