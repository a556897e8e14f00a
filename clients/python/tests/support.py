"""Shared by the client's tests: where the live servers are, and a gold answer to apply.

The live tests need a running hgym server with real sandboxes; test/clients/python.test.ts
starts one on the `shapes` fixture corpus and sets, for this process:

- ``HGYM_URL``: an open server;
- ``HGYM_AUTH_URL`` and ``HGYM_TEST_API_KEY``: a server that needs that bearer key;
- ``HGYM_SMALL_URL``: a server that takes one episode at a time;
- ``HGYM_GOLD``: a JSON file with a func_localize instance and its gold docstrings.

Without them the live tests are skipped, and only the unit tests run.
"""

import http.server
import json
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time
import unittest
from typing import Any, Awaitable, Callable, Dict, Generator, List, Optional, Tuple, Union

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



Reply = Union[Tuple[int, Any, Dict[str, str]], str]  # or "drop": read the request, hang up unanswered


class Stub:
    """An HTTP server on 127.0.0.1 answering from a script, one reply per request (the last
    one repeats), or from ``respond(request)``; it records each request and counts the
    connections it accepted, closed and served at once.

    ``keep_alive``: HTTP/1.1 keep-alive (else HTTP/1.0, a connection per request).
    ``after_answer``: ``"close"`` closes the connection after each answer (no
    ``Connection: close`` said: an idle close), ``"reset"`` resets it, ``"half-close"``
    shuts its sending side and reads on (what a client far away sees of an idle close
    whose reset has not reached it yet: sending still works). ``tls``: a
    ``(certfile, keyfile)`` to serve https. ``delay``: seconds before each answer."""

    def __init__(
        self,
        replies: Optional[List[Reply]] = None,
        *,
        respond: Optional[Callable[[Dict[str, Any]], Reply]] = None,
        keep_alive: bool = False,
        after_answer: Optional[str] = None,
        tls: Optional[Tuple[str, str]] = None,
        delay: float = 0.0,
    ) -> None:
        self.replies = list(replies or [])
        self.respond = respond
        self.delay = delay
        self.requests: List[Dict[str, Any]] = []
        self.accepted = 0
        self.answered = 0
        self.closed = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with stub.changed:
                    stub.accepted += 1
                    stub.changed.notify_all()

            def handle_one(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                request = {"method": self.command, "path": self.path, "body": body, "headers": dict(self.headers)}
                with stub.lock:
                    stub.requests.append(request)
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                try:
                    self.answer(stub.next_reply(request))
                finally:
                    with stub.lock:
                        stub.in_flight -= 1

            def answer(self, reply: Reply) -> None:
                if stub.delay:
                    time.sleep(stub.delay)
                if reply == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                status, payload, headers = reply
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
                    self.close_connection = True
                    return
                if after_answer == "half-close":  # FIN, and go on reading what comes
                    self.connection.shutdown(socket.SHUT_WR)
                elif after_answer is not None:
                    self.close_connection = True
                    if after_answer == "reset":  # SO_LINGER 0: close() sends RST, not FIN
                        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                with stub.changed:
                    stub.answered += 1
                    stub.changed.notify_all()

            do_GET = do_POST = do_DELETE = handle_one

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def shutdown_request(self, request: Any) -> None:
                super().shutdown_request(request)  # closes the socket
                with stub.changed:
                    stub.closed += 1
                    stub.changed.notify_all()

        self.server = Server(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def next_reply(self, request: Dict[str, Any]) -> Reply:
        if self.respond is not None:
            return self.respond(request)
        with self.lock:
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Waits until ``condition()`` holds (it reads the counts), at most ``timeout`` seconds."""
        with self.changed:
            return self.changed.wait_for(condition, timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


__all__ = ["Stub", "Reply", "hgym", "NEEDS_WEBSOCKETS", "env_or_skip", "live_url", "gold", "gold_agent", "drive", "drive_async", "docstring_literal", "FINISH", "bash"]
