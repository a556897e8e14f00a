"""AsyncClient: several episodes at once over one WebSocket, with streamed output."""

import asyncio
import time
import unittest
from typing import Dict, List, Tuple

from support import FINISH, NEEDS_WEBSOCKETS, bash, drive_async, gold, gold_agent, hgym, live_url


@NEEDS_WEBSOCKETS
class OverOneSocket(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self) -> None:
        self.client = hgym.AsyncClient(live_url(), timeout=120)
        await self.client.connect()
        self.addAsyncCleanup(self.client.aclose)

    async def test_episodes_run_concurrently_and_stream_their_output(self) -> None:
        n = 4
        episodes = await asyncio.gather(*(self.client.reset(task="func_localize", seed=i) for i in range(n)))
        self.assertEqual(len({e.episode_id for e in episodes}), n)
        for e in episodes:
            self.addAsyncCleanup(self.client.close, e.episode_id)
        chunks: Dict[int, List[Tuple[float, hgym.OutputChunk]]] = {i: [] for i in range(n)}

        async def run(i: int) -> Tuple[hgym.StepResult, float]:
            def collect(chunk: hgym.OutputChunk, i: int = i) -> None:
                chunks[i].append((time.monotonic(), chunk))

            command = f"echo start-{i}; sleep 1; echo end-{i}"
            result = await self.client.step(episodes[i].episode_id, bash(command), on_output=collect)
            return result, time.monotonic()

        started = time.monotonic()
        outcomes = await asyncio.gather(*(run(i) for i in range(n)))
        elapsed = time.monotonic() - started
        for i, (result, answered_at) in enumerate(outcomes):
            self.assertIn(f"start-{i}\n", result.observation)
            self.assertIn(f"end-{i}", result.observation)
            got = chunks[i]
            self.assertTrue(got, f"episode {i}: output was streamed")
            self.assertTrue(all(c.episode_id == episodes[i].episode_id and c.stream in ("stdout", "stderr") for _, c in got))
            self.assertTrue(all(at <= answered_at for at, _ in got), "the chunks came before the result")
            self.assertTrue("".join(c.data for _, c in got).startswith(f"start-{i}"))
        # Every command had started before any had ended: the steps ran at the same time.
        first_chunks = [got[0][0] for got in chunks.values()]
        ends = [at for got in chunks.values() for at, c in got if "end-" in c.data]
        if ends:
            self.assertLess(max(first_chunks), min(ends))
        self.assertLess(elapsed, n * 1.0 - 0.5, "four 1 s commands took less than 3.5 s together")

        finished = await asyncio.gather(*(self.client.step(e.episode_id, FINISH) for e in episodes))
        self.assertTrue(all(r.terminated and r.reward == 0.0 for r in finished), "a no-op finish scores 0")
        with self.assertRaises(hgym.EpisodeEnded):
            await self.client.step(episodes[0].episode_id, bash("echo late"))

    async def test_the_gold_answer_scores_1(self) -> None:
        answer = gold()
        episode = await self.client.reset(instance_id=answer["instance_id"])
        self.addAsyncCleanup(self.client.close, episode.episode_id)
        final = await drive_async(gold_agent(answer), lambda action: self.client.step(episode.episode_id, action))
        self.assertEqual((final.terminated, final.reward), (True, 1.0), final.info)

    async def test_coded_errors_and_ping(self) -> None:
        self.assertGreater(await self.client.ping(), 0)
        with self.assertRaises(hgym.NotFound):
            await self.client.step("no-such-episode", FINISH)
        self.assertFalse(await self.client.close("no-such-episode"))
        episode = await self.client.reset(task="dep_search", seed=1)
        self.addAsyncCleanup(self.client.close, episode.episode_id)
        with self.assertRaises(hgym.BadRequest):
            await self.client.step(episode.episode_id, {"tool": "think", "bogus": 1})
        mistake = await self.client.step(episode.episode_id, {"tool": "nope", "arguments": {}})
        self.assertIn("nope", mistake.observation)
        self.assertFalse(mistake.done)
        self.assertTrue(await self.client.close(episode.episode_id))


SLOW = 2.0  # seconds each of A's callbacks takes


@NEEDS_WEBSOCKETS
class SlowCallbacks(unittest.IsolatedAsyncioTestCase):
    """Two episodes on one socket: A's output callback is slow, B's step is not held up by
    it; A's chunks still reach its callback one at a time, in order, before A's result."""

    async def asyncSetUp(self) -> None:
        self.client = hgym.AsyncClient(live_url(), timeout=120)
        await self.client.connect()
        self.addAsyncCleanup(self.client.aclose)

    async def test_a_slow_plain_function_holds_up_only_its_own_step(self) -> None:
        await self.check_isolation(blocking=True)

    async def test_a_slow_coroutine_holds_up_only_its_own_step(self) -> None:
        await self.check_isolation(blocking=False)

    async def check_isolation(self, blocking: bool) -> None:
        a, b = await asyncio.gather(self.client.reset(task="dep_search", seed=11), self.client.reset(task="dep_search", seed=12))
        for e in (a, b):
            self.addAsyncCleanup(self.client.close, e.episode_id)
        loop = asyncio.get_running_loop()
        first_chunk = asyncio.Event()
        calls: List[Tuple[str, str, float]] = []  # ("start" | "end", data, when)

        def blocking_callback(chunk: hgym.OutputChunk) -> None:  # runs off the event loop
            calls.append(("start", chunk.data, time.monotonic()))
            loop.call_soon_threadsafe(first_chunk.set)
            time.sleep(SLOW)
            calls.append(("end", chunk.data, time.monotonic()))

        async def coroutine_callback(chunk: hgym.OutputChunk) -> None:
            calls.append(("start", chunk.data, time.monotonic()))
            first_chunk.set()
            await asyncio.sleep(SLOW)
            calls.append(("end", chunk.data, time.monotonic()))

        callback: hgym.aio.OutputCallback = blocking_callback if blocking else coroutine_callback
        a_step = asyncio.ensure_future(self.client.step(a.episode_id, bash("echo a1; sleep 0.3; echo a2"), on_output=callback))
        await asyncio.wait_for(first_chunk.wait(), 60)
        sent = time.monotonic()
        b_result = await self.client.step(b.episode_id, bash("echo b-done"))
        b_answered = time.monotonic()
        a_result = await a_step
        a_answered = time.monotonic()

        self.assertIn("b-done", b_result.observation)
        self.assertLess(b_answered - sent, SLOW / 2, "B's step was answered while A's callback was still busy")
        first_end = min(when for kind, _, when in calls if kind == "end")
        self.assertLess(b_answered, first_end, "B did not wait for A's first callback to return")
        # A's chunks: one callback at a time, in the order sent, all before A's result.
        self.assertEqual([kind for kind, _, _ in calls], ["start", "end"] * (len(calls) // 2))
        self.assertEqual("".join(data for kind, data, _ in calls if kind == "start"), "a1\na2\n")
        self.assertLessEqual(max(when for _, _, when in calls), a_answered)
        self.assertIn("a2", a_result.observation)


@NEEDS_WEBSOCKETS
class ClientWideCallback(unittest.IsolatedAsyncioTestCase):
    async def test_output_without_a_step_callback_goes_to_the_clients(self) -> None:
        seen: List[hgym.OutputChunk] = []

        async def on_output(chunk: hgym.OutputChunk) -> None:  # a coroutine callback is awaited
            seen.append(chunk)

        async with hgym.AsyncClient(live_url(), timeout=120, on_output=on_output) as client:
            episode = await client.reset(task="dep_search", seed=5)
            try:
                await client.step(episode.episode_id, bash("echo to-stderr >&2; echo to-stdout"))
            finally:
                await client.close(episode.episode_id)
        self.assertEqual({c.stream for c in seen}, {"stdout", "stderr"})
        self.assertIn("to-stdout", "".join(c.data for c in seen))


if __name__ == "__main__":
    unittest.main()
