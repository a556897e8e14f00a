"""The REST client's keep-alive connections, against local HTTP/1.1 servers that count the
connections they accept: one per thread, replaced when the server closed it while idle,
a step never sent twice, timeouts, https, a path prefix, disconnect and fork."""

import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from typing import Any, Dict, List, Tuple

from support import Reply, Stub, hgym

THINK = {"tool": "think", "arguments": {"thought": "x"}}


def stepped(text: str = "ok") -> Tuple[int, Dict[str, Any], Dict[str, str]]:
    return (200, {"observation": {"text": text}, "reward": 0, "terminated": False, "truncated": False, "info": {}}, {})


TOOLS = (200, {"tools": [{"type": "function", "function": {"name": "think"}}]}, {})


def by_route(request: Dict[str, Any]) -> Reply:
    """Answers any route as the server would, the step with the thought it was sent."""
    if request["method"] == "POST" and request["path"].endswith("/step"):
        return stepped(str(request["body"]["action"]["arguments"].get("thought")))
    if request["method"] == "POST":
        return (201, {"episode_id": "e1", "observation": {"text": "do it"}, "info": {}}, {})
    if request["method"] == "DELETE":
        return (200, {"episode_id": "e1", "closed": True}, {})
    return TOOLS


class KeepAlive(unittest.TestCase):
    def setUp(self) -> None:
        self.sleeps: List[float] = []

    def serve(self, replies: Any = None, respond: Any = by_route, **options: Any) -> Stub:
        stub = Stub(replies, respond=respond if replies is None else None, keep_alive=True, **options)
        self.addCleanup(stub.close)
        return stub

    def client(self, url: str, **options: Any) -> hgym.Client:
        options.setdefault("retry", hgym.RetryPolicy(attempts=3, sleep=self.sleeps.append))
        client = hgym.Client(url, timeout=options.pop("timeout", 10), **options)
        self.addCleanup(client.disconnect)
        return client

    def test_one_thread_sends_every_request_on_one_connection(self) -> None:
        stub = self.serve()
        client = self.client(stub.url)
        for i in range(10):
            episode = client.reset(task="func_localize", seed=i)
            self.assertEqual(client.step(episode.episode_id, {"tool": "think", "arguments": {"thought": f"t{i}"}}).observation, f"t{i}")
            self.assertEqual(len(client.tools()), 1)
            self.assertTrue(client.close(episode.episode_id))
        self.assertEqual(len(stub.requests), 40)
        self.assertEqual(stub.accepted, 1)

    def test_threads_share_a_client_each_on_its_own_connection_at_once(self) -> None:
        stub = self.serve(delay=0.05)
        client = self.client(stub.url)
        threads, per_thread = 8, 4
        mixed: List[str] = []

        def work(t: int) -> None:
            for i in range(per_thread):
                thought = f"thread {t} step {i}"
                got = client.step("e1", {"tool": "think", "arguments": {"thought": thought}}).observation
                if got != thought:
                    mixed.append(f"{thought!r} got {got!r}")

        started = time.monotonic()
        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(30)
        elapsed = time.monotonic() - started
        self.assertEqual(mixed, [], "every thread got its own answers")
        self.assertEqual(len(stub.requests), threads * per_thread)
        self.assertEqual(stub.accepted, threads, "one connection per thread")
        self.assertGreaterEqual(stub.max_in_flight, 2, "requests of different threads were served at once")
        serial = threads * per_thread * 0.05
        self.assertLess(elapsed, serial / 2, f"{threads} threads took {elapsed:.2f} s, {serial:.2f} s one after another")

    def test_a_connection_the_server_closed_while_idle_is_replaced_before_sending(self) -> None:
        for after_answer in ("close", "reset", "half-close"):
            with self.subTest(after_answer=after_answer):
                stub = self.serve(after_answer=after_answer)
                client = self.client(stub.url, retry=hgym.NO_RETRY)
                for i in range(3):
                    count = (lambda: stub.answered) if after_answer == "half-close" else (lambda: stub.closed)
                    self.assertTrue(stub.wait_until(lambda: count() >= i), "the server closed the last connection")
                    self.assertEqual(client.step("e1", {"tool": "think", "arguments": {"thought": f"s{i}"}}).observation, f"s{i}")
                steps = [r["body"]["action"]["arguments"]["thought"] for r in stub.requests]
                self.assertEqual(steps, ["s0", "s1", "s2"], "each step reached the server once")
                self.assertEqual(stub.accepted, 3)

    def test_an_answer_lost_on_a_reused_connection_is_asked_again_only_for_a_get(self) -> None:
        # The second request is read and hung up on, as when the server closes an idle
        # connection just as a request arrives on it.
        def second_dropped(request: Dict[str, Any]) -> Reply:
            return "drop" if len(stub.requests) == 2 else by_route(request)

        stub = self.serve(respond=second_dropped)
        client = self.client(stub.url, retry=hgym.NO_RETRY)
        self.assertEqual(len(client.tools()), 1)
        self.assertEqual(len(client.tools()), 1, "the GET was sent again on a fresh connection")
        self.assertEqual(([r["method"] for r in stub.requests], stub.accepted), (["GET"] * 3, 2))

        stub = self.serve(respond=second_dropped)
        client = self.client(stub.url, retry=hgym.NO_RETRY)
        client.step("e1", THINK)
        with self.assertRaises(hgym.TransportError):
            client.step("e1", THINK)
        self.assertEqual(len(stub.requests), 2, "the step that may have run was not sent again")
        self.assertEqual(self.sleeps, [])

    def test_a_timeout_fails_the_request_and_the_next_one_goes_on_a_fresh_connection(self) -> None:
        stub = self.serve(delay=1.0)
        client = self.client(stub.url, timeout=0.2, retry=hgym.NO_RETRY)
        started = time.monotonic()
        with self.assertRaises(hgym.TransportError):
            client.step("e1", THINK)
        self.assertLess(time.monotonic() - started, 0.9)
        stub.delay = 0.0
        client.timeout = 5
        self.assertEqual(len(client.tools()), 1)
        self.assertEqual(stub.accepted, 2)

    def test_the_servers_keep_alive_timeout_is_honoured(self) -> None:
        # Keep-Alive: timeout=1 -- the client reuses the connection for half a second of
        # idleness at most, and opens a new one after that rather than race the server.
        stub = self.serve([(200, {"tools": []}, {"keep-alive": "timeout=1"})])
        client = self.client(stub.url)
        client.tools()
        client.tools()
        self.assertEqual(stub.accepted, 1)
        time.sleep(0.6)
        client.tools()
        self.assertEqual(stub.accepted, 2)

    def test_a_base_url_with_a_path_prefix(self) -> None:
        stub = self.serve()
        client = self.client(stub.url + "/gym/")
        client.step("a b", THINK)
        client.tools()
        self.assertEqual([r["path"] for r in stub.requests], ["/gym/v1/episodes/a%20b/step", "/gym/v1/tools"])

    def test_disconnect_and_the_context_manager_close_the_connections(self) -> None:
        stub = self.serve()
        with hgym.Client(stub.url, timeout=10) as client:
            client.tools()
            other = threading.Thread(target=client.tools)
            other.start()
            other.join(10)
            self.assertEqual(stub.accepted, 2)
            self.assertEqual(stub.closed, 0)
        self.assertTrue(stub.wait_until(lambda: stub.closed >= 2), "both threads' connections were closed")
        client.tools()  # a closed client opens a new connection when used again
        self.assertEqual(stub.accepted, 3)
        client.disconnect()

    def test_a_forked_process_opens_its_own_connection(self) -> None:
        stub = self.serve()
        client = self.client(stub.url)
        self.assertEqual(client.step("e1", {"tool": "think", "arguments": {"thought": "parent"}}).observation, "parent")
        pid = os.fork()
        if pid == 0:  # the child: its answer must be its own, on its own connection
            code = 1
            try:
                code = 0 if client.step("e1", {"tool": "think", "arguments": {"thought": "child"}}).observation == "child" else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        self.assertEqual(client.step("e1", {"tool": "think", "arguments": {"thought": "parent again"}}).observation, "parent again")
        self.assertEqual(stub.accepted, 2, "the parent kept its connection, the child opened one")


class Https(unittest.TestCase):
    """An https server with a self-signed certificate for 127.0.0.1."""

    @classmethod
    def setUpClass(cls) -> None:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise AssertionError("the https tests make their certificate with the openssl command")
        cls.dir = tempfile.mkdtemp()
        cls.cert, cls.key = os.path.join(cls.dir, "cert.pem"), os.path.join(cls.dir, "key.pem")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", cls.key, "-out", cls.cert],
            check=True, capture_output=True, timeout=60,
        )

    @classmethod
    def tearDownClass(cls) -> None:
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_https_with_the_servers_certificate_keeps_one_connection(self) -> None:
        import ssl

        stub = Stub(respond=by_route, keep_alive=True, tls=(self.cert, self.key))
        self.addCleanup(stub.close)
        self.assertTrue(stub.url.startswith("https://"))
        with hgym.Client(stub.url, timeout=10, ssl_context=ssl.create_default_context(cafile=self.cert)) as client:
            for i in range(5):
                self.assertEqual(client.step("e1", {"tool": "think", "arguments": {"thought": f"tls {i}"}}).observation, f"tls {i}")
        self.assertEqual(stub.accepted, 1)

    def test_a_certificate_not_trusted_fails_at_once_without_retries(self) -> None:
        stub = Stub(respond=by_route, keep_alive=True, tls=(self.cert, self.key))
        self.addCleanup(stub.close)
        sleeps: List[float] = []
        with hgym.Client(stub.url, timeout=10, retry=hgym.RetryPolicy(sleep=sleeps.append)) as client:
            with self.assertRaises(hgym.TransportError) as caught:
                client.reset()
        self.assertIn("CERTIFICATE_VERIFY_FAILED", str(caught.exception))
        self.assertEqual((sleeps, stub.requests), ([], []))


if __name__ == "__main__":
    unittest.main()
