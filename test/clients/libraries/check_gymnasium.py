"""hgym's Gymnasium environment against gymnasium itself and a live server.

Registration (``import hgym``, ``"hgym:hgym/HGym-v0"``, the ``gymnasium.envs`` entry point of
the installed package), ``check_env`` and the passive checker ``make`` adds, seeding,
``SyncVectorEnv`` and ``AsyncVectorEnv`` with their default settings (autoreset, shared
memory), ``max_steps`` against ``TimeLimit``, render modes and the spaces.

test/clients/gymnasium.test.ts runs it with the trainer libraries' venv:

    python -m unittest -v check_gymnasium

with ``HGYM_URL`` (an open server), ``HGYM_AUTH_URL`` and ``HGYM_TEST_API_KEY`` (a server
that needs that key) and ``HGYM_INSTALLED`` (a folder the package was pip-installed into,
entry point metadata and all). The tests import the checkout's clients/python, except those
that start a Python of their own on the installed package.
"""

import copy
import json
import os
import pickle
import subprocess
import sys
import tempfile
import unittest
import warnings
from typing import Any, Dict, List, Optional, Tuple

CHECKOUT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", "clients", "python"))
sys.path.insert(0, CHECKOUT)

import gymnasium as gym  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402
from gymnasium.vector import AutoresetMode  # noqa: E402
from gymnasium.vector.utils import create_shared_memory, read_from_shared_memory, write_to_shared_memory  # noqa: E402

import hgym  # noqa: E402

URL = os.environ.get("HGYM_URL", "")
TASK = "func_localize"
FINISH = {"tool": "finish", "arguments": {}}
THINK = {"tool": "think", "arguments": {"thought": "thinking"}}
TOOLS = {"execute_bash", "str_replace_editor", "think", "finish"}


THOUGHT = "Your thought has been logged."


def is_instruction(text: str) -> bool:
    return text.startswith(("The docstring of the ", "A function ", "A method ", "2 functions", "3 functions"))


def bash(command: str) -> Dict[str, Any]:
    return {"tool": "execute_bash", "arguments": {"command": command}}


def make_env(**kwargs: Any) -> gym.Env:
    """What a vector env's workers call: module level, so forkserver workers find it."""
    return gym.make(hgym.ENV_ID, **{"base_url": URL, "task": TASK, "max_steps": 10, "timeout": 120, **kwargs})


def python(code: str, pythonpath: str) -> Dict[str, Any]:
    """Runs ``code`` in a new Python on ``pythonpath`` only, from an empty folder (so neither
    the checkout nor this folder is importable); returns the JSON its last line prints."""
    with tempfile.TemporaryDirectory() as cwd:
        env = {**os.environ, "PYTHONPATH": pythonpath, "PYTHONDONTWRITEBYTECODE": "1"}
        done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Case(unittest.TestCase):
    def make(self, **kwargs: Any) -> gym.Env:
        env = make_env(**kwargs)
        self.addCleanup(env.close)
        return env


class Registration(Case):
    def test_import_hgym_registers_the_id_and_make_takes_the_clients_kwargs(self) -> None:
        spec = gym.spec("hgym/HGym-v0")
        self.assertEqual((spec.entry_point, spec.max_episode_steps), ("hgym.env:HGymEnv", None))
        auth_url, key = os.environ["HGYM_AUTH_URL"], os.environ["HGYM_TEST_API_KEY"]
        env = gym.make("hgym/HGym-v0", base_url=auth_url, api_key=key, task="dep_search", max_steps=7, command_timeout=30, timeout=60)
        self.addCleanup(env.close)
        base = env.unwrapped
        self.assertIsInstance(base, hgym.HGymEnv)
        self.assertEqual((base.client.base_url, base.client.api_key, base.task, base.max_steps, base.command_timeout), (auth_url, key, "dep_search", 7, 30))
        _, info = env.reset(seed=1)
        self.assertEqual((info["task"], info["max_steps"]), ("dep_search", 7))
        with self.assertRaises(hgym.Unauthorized):  # the key was what let it in
            gym.make("hgym/HGym-v0", base_url=auth_url, api_key="wrong", task="dep_search")

    def test_the_installed_package_is_made_by_module_and_id_without_an_import(self) -> None:
        out = python(
            "\n".join(
                [
                    "import json, sys, gymnasium as gym",
                    "assert 'hgym' not in sys.modules",
                    f"env = gym.make('hgym:hgym/HGym-v0', base_url={URL!r}, task='dep_search', max_steps=3)",
                    "obs, info = env.reset(seed=2)",
                    "env.close()",
                    "print(json.dumps({'file': sys.modules['hgym'].__file__, 'task': info['task'], 'max_steps': info['max_steps']}))",
                ]
            ),
            os.environ["HGYM_INSTALLED"],
        )
        self.assertTrue(out["file"].startswith(os.environ["HGYM_INSTALLED"]), out)
        self.assertEqual((out["task"], out["max_steps"]), ("dep_search", 3))

    def test_the_entry_point_registers_the_env_as_gymnasium_before_1_0_loaded_it(self) -> None:
        out = python(
            "\n".join(
                [
                    "import json, sys, gymnasium as gym",
                    "from importlib.metadata import entry_points",
                    "from gymnasium.envs.registration import namespace, registry",
                    "plugins = list(entry_points(group='gymnasium.envs'))",
                    # gymnasium 1.x loads no plugin: the id is unknown until something registers it.
                    "before = 'hgym/HGym-v0' in registry",
                    "try:",
                    "    gym.make('hgym/HGym-v0')",
                    "    error = None",
                    "except gym.error.NamespaceNotFound as err:",
                    "    error = type(err).__name__",
                    # What gymnasium 0.26-0.29's load_plugin_envs did with each entry point.
                    "for plugin in plugins:",
                    "    with namespace(plugin.name):",
                    "        plugin.load()()",
                    f"env = gym.make('hgym/HGym-v0', base_url={URL!r}, task='dep_search')",
                    "env.reset(seed=3)",
                    "env.close()",
                    "print(json.dumps({'plugins': [[p.name, p.value] for p in plugins], 'before': before, 'error': error,",
                    "                  'after': 'hgym/HGym-v0' in registry, 'ids': sorted(i for i in registry if i.startswith('hgym'))}))",
                ]
            ),
            os.environ["HGYM_INSTALLED"],
        )
        self.assertEqual(out["plugins"], [["hgym", "hgym.registration:register_envs"]])
        self.assertEqual((out["before"], out["error"]), (False, "NamespaceNotFound"), "gymnasium 1.x loads no plugin entry point, as the docs say")
        self.assertEqual((out["after"], out["ids"]), (True, ["hgym/HGym-v0"]))


class Checker(Case):
    def test_check_env_and_the_passive_checker_pass_on_the_env_made_with_make(self) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            env = self.make()
            self.assertIsNotNone(env.unwrapped.spec)
            check_env(env.unwrapped)
            # make() put the PassiveEnvChecker around it: it checks the first reset, step and render.
            obs, info = env.reset(seed=4)
            env.step(env.action_space.sample())
            env.render()
        complaints = [str(w.message) for w in caught if not issubclass(w.category, ResourceWarning)]
        # The one complaint left: a text env has no frame rate to declare.
        unexpected = [m for m in complaints if "render_fps" not in m]
        self.assertEqual(unexpected, [])


class Seeding(Case):
    def instances(self, env: gym.Env, seed: Optional[int], resets: int = 4) -> List[str]:
        ids = [env.reset(seed=seed)[1]["instance_id"]]
        ids += [env.reset()[1]["instance_id"] for _ in range(resets - 1)]
        return ids

    def test_unseeded_resets_continue_the_seeded_generator(self) -> None:
        a, b = self.make(), self.make()
        first = self.instances(a, 5)
        self.assertEqual(self.instances(b, 5), first, "two envs seeded alike meet the same instances")
        self.assertEqual(self.instances(a, 5), first, "seeding again starts the sequence again")
        self.assertNotEqual(self.instances(a, 6), first)
        self.assertGreater(len(set(first)), 1, "unseeded resets move on to other instances")

    def test_every_reset_draws_the_servers_seed_from_np_random(self) -> None:
        env, client = self.make(), hgym.Client(URL)
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(9)))
        ids = self.instances(env, 9, resets=3)
        for instance_id in ids:
            episode = client.reset(task=TASK, seed=int(rng.integers(0, 2**53)))
            client.close(episode.episode_id)
            self.assertEqual(episode.info["instance_id"], instance_id)

    def test_seeds_up_to_2_64_minus_1(self) -> None:
        a, b = self.make(), self.make()
        for seed in (0, 2**53 - 1, 2**53, 2**63, 2**64 - 1):
            self.assertEqual(self.instances(a, seed, 2), self.instances(b, seed, 2), seed)
        with self.assertRaises(gym.error.Error):
            a.reset(seed=-1)

    def test_without_gymnasium_the_same_rules_hold(self) -> None:
        out = python(
            "\n".join(
                [
                    "import json, sys",
                    "sys.modules['gymnasium'] = None",  # makes `import gymnasium` fail
                    "import hgym",
                    f"a, b = (hgym.HGymEnv({URL!r}, task={TASK!r}) for _ in range(2))",
                    "def ids(env, seed):",
                    "    out = [env.reset(seed=seed)[1]['instance_id']]",
                    "    return out + [env.reset()[1]['instance_id'] for _ in range(3)]",
                    "first = ids(a, 5)",
                    "result = {'gym': hgym.HAS_GYMNASIUM, 'same': ids(b, 5) == first, 'again': ids(a, 5) == first,",
                    "          'big': ids(a, 2**64 - 1) == ids(b, 2**64 - 1), 'moves': len(set(first)) > 1}",
                    "try:",
                    "    a.reset(seed=-1)",
                    "except ValueError:",
                    "    result['negative'] = 'ValueError'",
                    "a.close(); b.close()",
                    "print(json.dumps(result))",
                ]
            ),
            CHECKOUT,
        )
        self.assertEqual(out, {"gym": False, "same": True, "again": True, "big": True, "moves": True, "negative": "ValueError"})


Record = List[Tuple[Any, ...]]


class Vector(Case):
    def run_vector(self, vector: gym.vector.VectorEnv) -> Record:
        """Two envs over four steps: env 1 finishes at once and is reset by the next step
        (NEXT_STEP autoreset), env 0 prints non-ASCII text, then finishes and is reset."""
        self.addCleanup(vector.close)
        self.assertEqual(vector.metadata["autoreset_mode"], AutoresetMode.NEXT_STEP)
        obs, infos = vector.reset(seed=11)
        record: Record = [(obs, tuple(infos["instance_id"]))]
        self.assertIsInstance(obs, tuple)
        self.assertIn(obs, vector.observation_space)
        plan = [
            # UTF-8 bytes written out, whatever the sandbox's locale: "héllo ✓ 🙂 42".
            (bash("printf 'h\\303\\251llo \\342\\234\\223 \\360\\237\\231\\202 %s' $((6*7))"), FINISH),
            (FINISH, THINK),
            (THINK, THINK),
            (THINK, FINISH),
        ]
        for actions in plan:
            obs, rewards, terminations, truncations, infos = vector.step(actions)
            self.assertIsInstance(obs, tuple)
            self.assertIn(obs, vector.observation_space)
            ids = tuple(infos["instance_id"]) if "instance_id" in infos else (None, None)
            record.append((obs, tuple(rewards), tuple(terminations), tuple(truncations), ids))
        (o0, _), (o1, _, t1, *_), (o2, _, t2, _, ids2), (o3, _, t3, _, ids3), (o4, _, t4, *_) = record
        self.assertTrue(all(map(is_instruction, o0)), o0)
        self.assertTrue(o1[0].startswith("héllo ✓ \U0001F642 42"), o1[0])
        self.assertEqual((o1[1], t1), ("The episode is finished.", (False, True)))
        # Env 1 ended at step 1, so step 2 resets it (its action is not run); env 0 ends.
        self.assertEqual((o2[0], t2, ids2[0]), ("The episode is finished.", (True, False), None))
        self.assertTrue(is_instruction(o2[1]) and ids2[1].startswith(TASK), (o2[1], ids2))
        self.assertTrue(is_instruction(o3[0]) and ids3[0].startswith(TASK), (o3[0], ids3))
        self.assertEqual((o3[1], t3, ids3[1]), (THOUGHT, (False, False), None))
        self.assertEqual((o4, t4), ((THOUGHT, "The episode is finished."), (False, True)))
        return record

    def test_sync_and_async_vector_envs_with_default_settings_run_episodes_with_autoreset(self) -> None:
        sync = self.run_vector(gym.vector.SyncVectorEnv([make_env, make_env]))
        vector = gym.vector.AsyncVectorEnv([make_env, make_env])
        self.assertTrue(vector.shared_memory)
        self.assertEqual(self.run_vector(vector), sync, "the same seed gives the same episodes, through shared memory")

    def test_async_vector_env_in_forkserver_workers(self) -> None:
        # Python 3.14 starts workers with forkserver by default: a fresh interpreter each, not a fork.
        self.run_vector(gym.vector.AsyncVectorEnv([make_env, make_env], context="forkserver"))

    def test_shared_memory_holds_any_text_of_the_space(self) -> None:
        space = hgym.ObservationSpace(200)
        memory = create_shared_memory(space, n=3)
        view = read_from_shared_memory(space, memory, n=3)
        texts = ("\U0001F642" * 200, "", "a\x00b\ud800c")  # 4-byte characters, NUL, a lone surrogate
        for i, text in enumerate(texts):
            write_to_shared_memory(space, i, text, memory)
        self.assertEqual(copy.deepcopy(view), texts)
        self.assertIsInstance(copy.deepcopy(view), tuple)
        write_to_shared_memory(space, 0, "shorter", memory)
        self.assertEqual(view[0], "shorter", "the view follows the memory")
        with self.assertRaises(ValueError):
            write_to_shared_memory(space, 1, "x" * 201, memory)


class StepLimits(Case):
    def steps_until_done(self, env: gym.Env, limit: int = 6) -> Tuple[int, Dict[str, Any]]:
        env.reset(seed=12)
        for n in range(1, limit + 1):
            _, _, terminated, truncated, info = env.step(THINK)
            if terminated or truncated:
                self.assertEqual((terminated, truncated), (False, True))
                return n, info
        raise AssertionError(f"not truncated within {limit} steps")

    def assert_graded_truncation(self, env: gym.Env, steps: int) -> None:
        n, info = self.steps_until_done(env)
        self.assertEqual(n, steps)
        self.assertIn("grade", info, "the server truncated the episode and graded it")
        self.assertEqual(env.unwrapped.state()["status"], "truncated")

    def test_max_steps_truncates_on_the_server_and_is_graded(self) -> None:
        self.assert_graded_truncation(self.make(max_steps=2), 2)

    def test_max_episode_steps_of_make_becomes_the_servers_limit(self) -> None:
        env = self.make(max_steps=None, max_episode_steps=2)
        self.assertEqual((env.spec.max_episode_steps, env.unwrapped.max_steps), (2, 2))
        self.assert_graded_truncation(env, 2)
        self.assertEqual(self.make(max_steps=10, max_episode_steps=3).unwrapped.max_steps, 3, "the smaller limit wins")
        self.assert_graded_truncation(self.make(max_steps=1, max_episode_steps=3), 1)


class RenderAndSpaces(Case):
    def test_render_modes(self) -> None:
        env = self.make(render_mode="ansi")
        self.assertEqual(env.unwrapped.render(), "", "nothing to show before reset (make's OrderEnforcing refuses the call)")
        obs, _ = env.reset(seed=13)
        self.assertEqual(env.render(), obs)
        obs, *_ = env.step(bash("echo rendered"))
        self.assertEqual(env.render(), obs)
        self.assertIn("rendered", obs)
        env = self.make()
        env.reset(seed=13)
        self.assertIsNone(env.render())
        with self.assertRaises(ValueError), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # make() warns first that "human" is not declared
            make_env(render_mode="human")

    def test_the_action_space_is_whole_before_reset_and_spaces_compare_by_value(self) -> None:
        a, b = self.make(), self.make()
        names = [t["function"]["name"] for t in hgym.Client(URL).tools()]
        self.assertEqual(set(a.action_space.tool_names), TOOLS)
        self.assertEqual(a.action_space.tool_names, names)
        self.assertIn(FINISH, a.action_space)
        self.assertIn({"tool": "think", "arguments": {"thought": "x"}, "content": "text beside the call"}, a.action_space)
        self.assertNotIn({"tool": "nope"}, a.action_space)
        self.assertIn(a.action_space.sample(), a.action_space)
        for x, y in ((a.action_space, b.action_space), (a.observation_space, b.observation_space)):
            self.assertEqual(x, y)
            self.assertEqual(hash(x), hash(y))
            self.assertEqual(pickle.loads(pickle.dumps(x)), x)
        self.assertNotEqual(hgym.ObservationSpace(200), hgym.ObservationSpace(300))
        self.assertNotEqual(hgym.ActionSpace(), a.action_space)
        self.assertIn(a.observation_space.sample(), a.observation_space)

    def test_a_long_observation_is_cut_to_the_space(self) -> None:
        env = self.make(max_observation_chars=300)
        obs, _ = env.reset(seed=14)
        self.assertIn(obs, env.observation_space)
        obs, _, _, _, info = env.step(bash("printf 'HEAD'; head -c 1000 /dev/zero | tr '\\0' x; printf 'TAIL'"))
        self.assertEqual(len(obs), 300)
        self.assertIn(obs, env.observation_space)
        self.assertTrue(obs.startswith("HEAD"), obs)
        self.assertIn("characters cut by the client", obs)
        self.assertIn("[Current working directory:", obs, "the tail is kept")
        self.assertGreater(info["observation_cut_chars"], 700)


if __name__ == "__main__":
    unittest.main()
