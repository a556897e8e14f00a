"""HGymEnv, the Gymnasium-style environment, against a live server."""

import unittest
from types import SimpleNamespace
from typing import Any, Dict

from support import FINISH, drive, gold, gold_agent, hgym, live_url


class GymnasiumContract(unittest.TestCase):
    url: str

    @classmethod
    def setUpClass(cls) -> None:
        cls.url = live_url()

    def env(self, **kwargs: Any) -> hgym.HGymEnv:
        env = hgym.HGymEnv(self.url, timeout=120, **kwargs)
        self.addCleanup(env.close)
        return env

    def test_reset_step_until_terminated_with_the_gold_answer(self) -> None:
        answer = gold()
        env = self.env(task="func_localize", max_steps=20)
        obs, info = env.reset(options={"instance_id": answer["instance_id"]})
        self.assertIsInstance(obs, str)
        self.assertIn(obs, env.observation_space)
        self.assertEqual((info["episode_id"], info["instance_id"], info["max_steps"]), (env.episode_id, answer["instance_id"], 20))
        self.assertEqual(set(env.action_space.tool_names), {"execute_bash", "str_replace_editor", "think", "finish"})
        self.assertIn(FINISH, env.action_space)
        self.assertIn({"message": "hello"}, env.action_space)
        self.assertNotIn({"tool": "nope"}, env.action_space)
        self.assertIn(env.action_space.sample(), env.action_space)

        def step(action: Dict[str, Any]) -> SimpleNamespace:
            obs, reward, terminated, truncated, info = env.step(action)
            self.assertIsInstance(obs, str)
            if not (terminated or truncated):
                self.assertEqual(reward, 0.0)
            return SimpleNamespace(observation=obs, reward=reward, terminated=terminated, truncated=truncated, info=info)

        final = drive(gold_agent(answer), step)
        self.assertEqual((final.terminated, final.truncated, final.reward), (True, False, 1.0), final.info)
        with self.assertRaises(hgym.EpisodeEnded):
            env.step(FINISH)
        self.assertEqual(env.trajectory()["reward"], 1)

    def test_a_step_before_reset_raises_reset_needed(self) -> None:
        with self.assertRaises(hgym.ResetNeeded):
            self.env(task="func_localize").step(FINISH)

    def test_reset_closes_the_episode_in_progress(self) -> None:
        env = self.env(task="dep_search")
        env.reset(seed=1)
        first = env.episode_id
        obs, info = env.reset(seed=2)
        self.assertNotEqual(info["episode_id"], first)
        self.assertEqual(env.client.state(first)["status"], "closed")
        env.close()
        self.assertEqual(env.state()["status"], "closed")
        with self.assertRaises(hgym.EpisodeEnded):
            env.step("anything")

    def test_the_step_limit_truncates(self) -> None:
        with hgym.HGymEnv(self.url, task="dep_search", max_steps=1) as env:
            env.reset(seed=4)
            _, reward, terminated, truncated, info = env.step({"tool": "think", "arguments": {"thought": "one step only"}})
            self.assertEqual((terminated, truncated, reward), (False, True, 0.0))
            self.assertIn("grade", info)
            episode_id = env.episode_id
        self.assertEqual(env.client.state(episode_id)["status"], "truncated")

    def test_reset_options_pick_the_task(self) -> None:
        env = self.env()
        _, info = env.reset(seed=3, options={"task": "dep_search"})
        self.assertEqual(info["task"], "dep_search")


if __name__ == "__main__":
    unittest.main()
