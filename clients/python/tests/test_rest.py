"""Whole episodes over REST against a live server with real sandboxes."""

import threading
import time
import unittest
from typing import List

from support import FINISH, bash, drive, env_or_skip, gold, gold_agent, hgym, live_url

TOOLS = {"execute_bash", "str_replace_editor", "think", "finish"}


class RestEpisodes(unittest.TestCase):
    client: hgym.Client

    @classmethod
    def setUpClass(cls) -> None:
        cls.client = hgym.Client(live_url(), timeout=120)

    @classmethod
    def tearDownClass(cls) -> None:
        cls.client.disconnect()

    def episode(self, **reset: object) -> hgym.ResetResult:
        """A new episode, closed at the end of the test whatever happens."""
        episode = self.client.reset(**reset)  # type: ignore[arg-type]
        self.addCleanup(self.client.close, episode.episode_id)
        return episode

    def test_the_server_lists_its_tools_and_tasks(self) -> None:
        tools = self.client.tools()
        self.assertEqual({t["function"]["name"] for t in tools}, TOOLS)
        self.assertTrue(all(t["type"] == "function" and "parameters" in t["function"] for t in tools))
        tasks = self.client.tasks()
        self.assertGreater(tasks["families"]["func_localize"]["instances"], 0)
        self.assertEqual(self.client.health()["status"], "ok")
        self.assertEqual(self.client.wait_ready(timeout=30)["status"], "ready")

    def test_the_gold_answer_through_the_tools_scores_1(self) -> None:
        answer = gold()
        episode = self.episode(instance_id=answer["instance_id"])
        self.assertEqual(episode.info["task"], "func_localize")
        self.assertEqual(episode.info["instance_id"], answer["instance_id"])
        self.assertEqual(episode.info["workspace"], answer["workspace"])
        self.assertTrue(episode.observation, "the observation after reset is the instruction")

        final = drive(gold_agent(answer), lambda action: self.client.step(episode.episode_id, action))
        self.assertTrue(final.terminated)
        self.assertFalse(final.truncated)
        self.assertEqual(final.reward, 1.0, final.info)
        self.assertIn("grade", final.info)

        trajectory = self.client.trajectory(episode.episode_id)
        self.assertEqual((trajectory["status"], trajectory["reward"]), ("terminated", 1))
        self.assertEqual(len(trajectory["steps"]), 2 * len(answer["targets"]) + 1)
        self.assertEqual(trajectory["steps"][-1]["action"], FINISH)
        self.assertEqual(self.client.state(episode.episode_id)["status"], "terminated")

    def test_a_step_after_the_end_raises_episode_ended(self) -> None:
        episode = self.episode(task="func_localize", seed=1)
        done = self.client.step(episode.episode_id, FINISH)
        self.assertEqual((done.terminated, done.reward), (True, 0.0), "a no-op finish scores 0")
        with self.assertRaises(hgym.EpisodeEnded) as caught:
            self.client.step(episode.episode_id, bash("echo late"))
        self.assertEqual((caught.exception.status, caught.exception.code), (409, "HGYM_ERR_EPISODE_ENDED"))
        self.assertTrue(self.client.close(episode.episode_id))
        self.assertTrue(self.client.close(episode.episode_id), "close is idempotent")

    def test_an_unknown_episode_is_not_found(self) -> None:
        for call in (
            lambda: self.client.step("no-such-episode", FINISH),
            lambda: self.client.state("no-such-episode"),
            lambda: self.client.trajectory("no-such-episode"),
        ):
            with self.assertRaises(hgym.NotFound) as caught:
                call()
            self.assertEqual(caught.exception.status, 404)
        self.assertFalse(self.client.close("no-such-episode"), "closing an unknown episode is not an error")
        with self.assertRaises(hgym.NotFound):
            self.client.reset(task="no_such_family")

    def test_the_agents_mistakes_are_observations_and_cost_a_step(self) -> None:
        episode = self.episode(task="dep_search", seed=2)
        unknown = self.client.step(episode.episode_id, {"tool": "rm_everything", "arguments": {}})
        self.assertIn("rm_everything", unknown.observation)
        bad_args = self.client.step(episode.episode_id, {"tool": "execute_bash", "arguments": {"cmd": "ls"}})
        self.assertTrue(bad_args.observation)
        nudge = self.client.step(episode.episode_id, "I think I am done.")
        self.assertIn("finish", nudge.observation)
        for result in (unknown, bad_args, nudge):
            self.assertFalse(result.terminated or result.truncated)
        self.assertEqual(self.client.state(episode.episode_id)["steps"], 3)
        self.assertEqual([s["invalid"] for s in self.client.trajectory(episode.episode_id)["steps"]][:2], [True, True])
        # An action of neither shape is not the agent's mistake but the trainer's: a 400.
        with self.assertRaises(hgym.BadRequest) as caught:
            self.client.step(episode.episode_id, {"tool": "think", "bogus": 1})
        self.assertEqual(caught.exception.status, 400)

    def test_max_steps_truncates_and_still_grades(self) -> None:
        episode = self.episode(task="dep_search", seed=3, options={"max_steps": 2})
        self.assertEqual(episode.info["max_steps"], 2)
        first = self.client.step(episode.episode_id, {"tool": "think", "arguments": {"thought": "hm"}})
        self.assertFalse(first.done)
        second = self.client.step(episode.episode_id, bash("ls"))
        self.assertEqual((second.terminated, second.truncated), (False, True))
        self.assertIn("grade", second.info)
        with self.assertRaises(hgym.EpisodeEnded):
            self.client.step(episode.episode_id, FINISH)

    def test_threads_share_one_client(self) -> None:
        episodes = [self.episode(task="dep_search", seed=20 + i) for i in range(4)]
        wrong: List[str] = []

        def work(i: int) -> None:
            for j in range(5):
                word = f"thread-{i}-step-{j}"
                observation = self.client.step(episodes[i].episode_id, bash(f"echo {word}")).observation
                if not observation.startswith(word + "\n"):
                    wrong.append(f"{word}: {observation!r}")

        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(episodes))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(wrong, [], "each thread got its own episode's answers")
        self.assertEqual([self.client.state(e.episode_id)["steps"] for e in episodes], [5] * len(episodes))

    def test_the_same_seed_gives_the_same_instance(self) -> None:
        a = self.episode(task="func_localize", seed=7)
        b = self.episode(task="func_localize", seed=7)
        self.assertNotEqual(a.episode_id, b.episode_id)
        self.assertEqual(a.info["instance_id"], b.info["instance_id"])


class CapacityRetry(unittest.TestCase):
    """A server that takes one episode at a time: the second reset is refused with 503 and
    Retry-After, and the client retries until the first episode is closed."""

    def test_reset_waits_for_a_free_slot(self) -> None:
        url = env_or_skip("HGYM_SMALL_URL")
        holder = hgym.Client(url, timeout=60)
        first = holder.reset(task="func_localize")
        self.addCleanup(holder.close, first.episode_id)

        impatient = hgym.Client(url, timeout=60, retry=hgym.NO_RETRY)
        with self.assertRaises(hgym.Capacity) as caught:
            impatient.reset(task="func_localize")
        self.assertEqual((caught.exception.status, caught.exception.retry_after), (503, 1.0))

        waits = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            time.sleep(seconds)

        patient = hgym.Client(url, timeout=60, retry=hgym.RetryPolicy(attempts=10, deadline=30, sleep=sleep))
        release = threading.Timer(1.5, holder.close, args=(first.episode_id,))
        release.start()
        self.addCleanup(release.cancel)
        started = time.monotonic()
        second = patient.reset(task="func_localize")
        self.addCleanup(patient.close, second.episode_id)
        self.assertGreaterEqual(time.monotonic() - started, 1.4)
        self.assertGreaterEqual(len(waits), 1)
        self.assertTrue(all(w == 1.0 for w in waits), f"waited as Retry-After said: {waits}")
        self.assertEqual(holder.state(first.episode_id)["status"], "closed")


if __name__ == "__main__":
    unittest.main()
