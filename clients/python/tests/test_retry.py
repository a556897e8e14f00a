"""Which requests the REST client repeats, against a scripted local HTTP server: reset after
the 503 codes that did nothing (honouring Retry-After) and after a refused connection;
close and GETs also after a lost answer; step never."""

import socket
import unittest
from typing import Any, Dict, List, Optional, Tuple

from support import Reply, Stub, hgym

CREATED = (201, {"episode_id": "e1", "observation": {"text": "do it"}, "info": {"task": "func_localize"}}, {})
STEPPED = (200, {"observation": {"text": "ok"}, "reward": 0, "terminated": False, "truncated": False, "info": {"step": 1}}, {})
CLOSED = (200, {"episode_id": "e1", "closed": True}, {})


def coded(status: int, code: str, retry_after: Optional[str] = None) -> Tuple[int, Dict[str, Any], Dict[str, str]]:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    return (status, {"status_code": status, "code": code, "error": "x", "message": f"{code} from the stub"}, headers)


def free_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RetryTest(unittest.TestCase):
    def setUp(self) -> None:
        self.sleeps: List[float] = []
        self.policy = hgym.RetryPolicy(attempts=4, backoff=0.25, jitter=True, sleep=self.sleeps.append)

    def client(self, replies: List[Reply], **kwargs: Any) -> Tuple[hgym.Client, Stub]:
        stub = Stub(replies)
        self.addCleanup(stub.close)
        return hgym.Client(stub.url, timeout=10, retry=kwargs.pop("retry", self.policy), **kwargs), stub

    def test_reset_waits_as_retry_after_says_then_succeeds(self) -> None:
        client, stub = self.client([coded(503, "HGYM_ERR_CAPACITY", "1"), CREATED])
        episode = client.reset(task="func_localize", seed=3)
        self.assertEqual(episode.episode_id, "e1")
        self.assertEqual(self.sleeps, [1.0])
        self.assertEqual([r["method"] for r in stub.requests], ["POST", "POST"])
        self.assertEqual(stub.requests[1]["body"], {"task": "func_localize", "seed": 3})

    def test_reset_is_retried_while_the_server_shuts_down(self) -> None:
        client, stub = self.client([coded(503, "HGYM_ERR_SHUTTING_DOWN", "1"), CREATED])
        self.assertEqual(client.reset().episode_id, "e1")
        self.assertEqual((len(stub.requests), self.sleeps), (2, [1.0]))

    def test_reset_backs_off_without_retry_after(self) -> None:
        client, stub = self.client([coded(503, "HGYM_ERR_SANDBOX_START"), coded(503, "HGYM_ERR_POOL_CLOSED"), CREATED])
        client.reset()
        self.assertEqual(len(stub.requests), 3)
        self.assertEqual(len(self.sleeps), 2)
        self.assertTrue(0.125 <= self.sleeps[0] <= 0.25 and 0.25 <= self.sleeps[1] <= 0.5, self.sleeps)

    def test_reset_gives_up_after_its_attempts_with_the_coded_error(self) -> None:
        client, stub = self.client([coded(503, "HGYM_ERR_CAPACITY", "1")])
        with self.assertRaises(hgym.Capacity) as caught:
            client.reset()
        self.assertEqual(len(stub.requests), 4)
        self.assertEqual(self.sleeps, [1.0, 1.0, 1.0])
        self.assertEqual((caught.exception.status, caught.exception.retry_after), (503, 1.0))

    def test_reset_gives_up_when_the_wait_would_pass_the_deadline(self) -> None:
        policy = hgym.RetryPolicy(attempts=10, deadline=5, sleep=self.sleeps.append)
        client, stub = self.client([coded(503, "HGYM_ERR_CAPACITY", "30")], retry=policy)
        with self.assertRaises(hgym.Capacity):
            client.reset()
        self.assertEqual((len(stub.requests), self.sleeps), (1, []))

    def test_reset_is_not_repeated_after_errors_that_will_not_pass(self) -> None:
        for reply, cls in [
            (coded(502, "HGYM_ERR_SANDBOX_LOST"), hgym.SandboxLost),
            (coded(503, "HGYM_ERR_DOCKER_UNAVAILABLE"), hgym.DockerUnavailable),
            (coded(400, "HGYM_ERR_BAD_REQUEST"), hgym.BadRequest),
            (coded(404, "HGYM_ERR_NOT_FOUND"), hgym.NotFound),
        ]:
            with self.subTest(cls=cls.__name__):
                client, stub = self.client([reply, CREATED])
                with self.assertRaises(cls):
                    client.reset()
                self.assertEqual(len(stub.requests), 1)
        self.assertEqual(self.sleeps, [])

    def test_reset_is_not_repeated_when_the_answer_was_lost(self) -> None:
        # The server may have started an episode: a second reset would start another.
        client, stub = self.client(["drop", CREATED])
        with self.assertRaises(hgym.TransportError):
            client.reset()
        self.assertEqual((len(stub.requests), self.sleeps), (1, []))

    def test_reset_is_repeated_while_no_connection_can_be_made(self) -> None:
        client = hgym.Client(f"http://127.0.0.1:{free_port()}", timeout=5, retry=self.policy)
        with self.assertRaises(hgym.TransportError) as caught:
            client.reset()
        self.assertIsNone(caught.exception.code)
        self.assertEqual(len(self.sleeps), 3)

    def test_step_is_never_repeated(self) -> None:
        for replies in ([coded(503, "HGYM_ERR_CAPACITY", "1"), STEPPED], ["drop", STEPPED]):
            with self.subTest(first=replies[0] if isinstance(replies[0], str) else replies[0][1]["code"]):
                client, stub = self.client(replies)
                with self.assertRaises(hgym.HGymError):
                    client.step("e1", {"tool": "think", "arguments": {"thought": "x"}})
                self.assertEqual(len(stub.requests), 1)
        refused = hgym.Client(f"http://127.0.0.1:{free_port()}", timeout=5, retry=self.policy)
        with self.assertRaises(hgym.TransportError):
            refused.step("e1", "hello")
        self.assertEqual(self.sleeps, [])

    def test_close_is_idempotent_so_it_is_repeated_after_a_lost_answer(self) -> None:
        client, stub = self.client(["drop", coded(503, "HGYM_ERR_POOL_CLOSED"), CLOSED])
        self.assertTrue(client.close("e1"))
        self.assertEqual([r["method"] for r in stub.requests], ["DELETE"] * 3)
        self.assertEqual(stub.requests[0]["path"], "/v1/episodes/e1")
        self.assertEqual(len(self.sleeps), 2)

    def test_requests_carry_the_key_and_json(self) -> None:
        client, stub = self.client([STEPPED], api_key="k3y")
        obs, reward, terminated, truncated, info = client.step("a/b", "hi")
        self.assertEqual((obs, reward, terminated, truncated, info), ("ok", 0.0, False, False, {"step": 1}))
        request = stub.requests[0]
        self.assertEqual(request["path"], "/v1/episodes/a%2Fb/step")
        self.assertEqual(request["body"], {"action": {"message": "hi"}})
        headers = {k.lower(): v for k, v in request["headers"].items()}
        self.assertEqual(headers["authorization"], "Bearer k3y")
        self.assertEqual(headers["content-type"], "application/json")

    def test_wait_ready_polls_readyz_and_gives_up_with_the_servers_reasons(self) -> None:
        not_ready = (503, {"status": "not ready", "problems": ["no warm sandbox yet"]}, {})
        ready = (200, {"status": "ready", "pool": {"warm": 1}}, {})
        client, stub = self.client([not_ready, not_ready, ready])
        self.assertEqual(client.wait_ready(timeout=10, interval=0.01)["status"], "ready")
        self.assertEqual([r["path"] for r in stub.requests], ["/readyz"] * 3)
        client, _ = self.client([not_ready])
        with self.assertRaises(hgym.TransportError) as caught:
            client.wait_ready(timeout=0.1, interval=0.02)
        self.assertIn("no warm sandbox yet", str(caught.exception))

    def test_an_answer_that_is_not_json_is_a_transport_error(self) -> None:
        client, _ = self.client([(200, [], {})])  # a JSON array: not hgym's shape
        with self.assertRaises(hgym.TransportError):
            client.tools()


if __name__ == "__main__":
    unittest.main()
