"""A server with an API key: both clients send it, and without it get Unauthorized."""

import asyncio
import unittest

from support import NEEDS_WEBSOCKETS, env_or_skip, hgym


class ApiKey(unittest.TestCase):
    url: str
    key: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.url = env_or_skip("HGYM_AUTH_URL")
        cls.key = env_or_skip("HGYM_TEST_API_KEY")

    def test_rest_without_the_key_is_unauthorized(self) -> None:
        for key in ("", "wrong-key"):
            client = hgym.Client(self.url, api_key=key, timeout=30)
            with self.subTest(key=key):
                with self.assertRaises(hgym.Unauthorized) as caught:
                    client.tools()
                self.assertEqual((caught.exception.status, caught.exception.code), (401, "HGYM_ERR_UNAUTHORIZED"))
                with self.assertRaises(hgym.Unauthorized):
                    client.reset(task="func_localize")
                self.assertEqual(client.health()["status"], "ok", "the health checks stay open")

    def test_rest_with_the_key_runs_an_episode(self) -> None:
        client = hgym.Client(self.url, api_key=self.key, timeout=60)
        episode = client.reset(task="func_localize", seed=1)
        self.addCleanup(client.close, episode.episode_id)
        result = client.step(episode.episode_id, {"tool": "think", "arguments": {"thought": "authorized"}})
        self.assertFalse(result.done)
        self.assertTrue(client.close(episode.episode_id))

    @NEEDS_WEBSOCKETS
    def test_websocket_without_the_key_is_unauthorized_and_with_it_works(self) -> None:
        async def scenario() -> None:
            with self.assertRaises(hgym.Unauthorized):
                await hgym.AsyncClient(self.url, api_key="").connect()
            async with hgym.AsyncClient(self.url, api_key=self.key, timeout=60) as client:
                self.assertGreater(await client.ping(), 0)
                episode = await client.reset(task="dep_search", seed=1)
                self.assertTrue(await client.close(episode.episode_id))

        asyncio.run(scenario())


if __name__ == "__main__":
    unittest.main()
