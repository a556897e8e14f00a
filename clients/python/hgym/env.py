"""A Gymnasium environment over the REST client.

When ``gymnasium`` is importable, :class:`HGymEnv` subclasses ``gymnasium.Env`` (and
``import hgym`` registers it as ``hgym/HGym-v0``, see :mod:`hgym.registration`); without it,
it is a plain class with the same methods, so nothing here needs gymnasium.
"""

import random
from typing import Any, Dict, Mapping, Optional, Tuple

from .client import Client
from .errors import ResetNeeded
from .retry import RetryPolicy
from .results import JSON, Action, normalize_action
from .spaces import DEFAULT_MAX_OBSERVATION_CHARS, HAS_GYMNASIUM, ActionSpace, ObservationSpace

if HAS_GYMNASIUM:
    import gymnasium as _gymnasium

    _EnvBase: Any = _gymnasium.Env
else:
    _EnvBase = object

__all__ = ["HGymEnv", "ActionSpace", "ObservationSpace", "HAS_GYMNASIUM", "SERVER_SEED_LIMIT"]

# The server takes seeds below 2**53 (integers a JSON number holds exactly).
SERVER_SEED_LIMIT = 2**53


class HGymEnv(_EnvBase):  # type: ignore[misc]
    """One hgym episode at a time, with Gymnasium's contract.

    >>> env = HGymEnv("http://127.0.0.1:8000", task="func_localize", max_steps=30)
    >>> obs, info = env.reset(seed=1)
    >>> obs, reward, terminated, truncated, info = env.step({"tool": "finish", "arguments": {}})
    >>> env.close()

    Construction asks the server for its tools (``GET /v1/tools``), so the action space is
    whole before the first reset. ``max_steps`` is the step limit to use: the server ends
    the episode there with ``truncated=True`` and grades the workspace as it stands.

    ``reset`` closes the episode in progress, if any, and starts a new one; ``options`` may
    carry ``task`` or ``instance_id`` (for this reset only) besides the server's options
    (``max_steps``, ``command_timeout``). ``info`` after reset holds ``episode_id``,
    ``task``, ``instance_id``, ``max_steps``, ``tools`` and ``workspace``.

    Seeding follows Gymnasium: ``reset(seed=s)`` seeds ``np_random``, and every reset, seeded
    or not, draws the server's seed from it (an integer below 2**53, which picks the
    instance). An unseeded reset goes on with the seeded generator, so two environments
    seeded alike meet the same instances in the same order. Any non-negative seed works,
    2**64 - 1 included. The draw is not the seed itself: ``reset(seed=1)`` here and
    ``Client.reset(seed=1)`` pick different instances.

    ``step`` after the episode ended raises :class:`hgym.EpisodeEnded` (the server's 409);
    before any reset it raises :class:`hgym.ResetNeeded`. Steps are never retried. An
    observation longer than the observation space's ``max_length`` (``max_observation_chars``)
    is cut in the middle with a note, and ``info["observation_cut_chars"]`` says by how much.

    ``render_mode="ansi"`` makes ``render()`` return the last observation's text.
    """

    metadata: Dict[str, Any] = {"render_modes": ["ansi"]}

    def __init__(
        self,
        base_url: Optional[str] = None,
        task: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        instance_id: Optional[str] = None,
        max_steps: Optional[int] = None,
        command_timeout: Optional[float] = None,
        timeout: float = 300.0,
        retry: Optional[RetryPolicy] = None,
        client: Optional[Client] = None,
        render_mode: Optional[str] = None,
        max_observation_chars: int = DEFAULT_MAX_OBSERVATION_CHARS,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode is one of {self.metadata['render_modes']} or None, not {render_mode!r}")
        if HAS_GYMNASIUM:
            super().__init__()
        self.render_mode = render_mode
        self._owns_client = client is None
        self.client = client if client is not None else Client(base_url, api_key=api_key, timeout=timeout, retry=retry)
        self.task = task
        self.instance_id = instance_id
        self.max_steps = max_steps
        self.command_timeout = command_timeout
        self.episode_id: Optional[str] = None
        self.observation_space = ObservationSpace(max_observation_chars)
        # The server's tools are the same for every episode; vector environments compare
        # the action spaces of their copies when they are built, before any reset.
        self.action_space = ActionSpace(self.client.tools())
        self._running = False
        self._last_observation = ""
        self._rng: Optional[random.Random] = None  # np_random's stand-in without gymnasium

    def reset(self, *, seed: Optional[int] = None, options: Optional[Mapping[str, Any]] = None) -> Tuple[str, JSON]:
        server_seed = self._draw_server_seed(seed)
        self._close_episode()
        opts = dict(options or {})
        task = opts.pop("task", self.task)
        instance_id = opts.pop("instance_id", self.instance_id)
        server_options = {**self._server_options(), **opts}
        result = self.client.reset(task=task, seed=server_seed, instance_id=instance_id, options=server_options or None)
        self.episode_id = result.episode_id
        self._running = True
        info = dict(result.info)
        info["episode_id"] = result.episode_id
        return self._observe(result.observation, info), info

    def step(self, action: Action) -> Tuple[str, float, bool, bool, JSON]:
        if self.episode_id is None:
            raise ResetNeeded("call reset() before step()")
        result = self.client.step(self.episode_id, normalize_action(action))
        info = dict(result.info)
        if result.terminated or result.truncated:
            self._running = False
        return self._observe(result.observation, info), result.reward, result.terminated, result.truncated, info

    def state(self) -> JSON:
        if self.episode_id is None:
            raise ResetNeeded("no episode yet: call reset()")
        return self.client.state(self.episode_id)

    def trajectory(self) -> JSON:
        if self.episode_id is None:
            raise ResetNeeded("no episode yet: call reset()")
        return self.client.trajectory(self.episode_id)

    def render(self) -> Optional[str]:
        return self._last_observation if self.render_mode == "ansi" else None

    def close(self) -> None:
        """Releases the episode's sandbox (idempotent), and the client's connections when
        the env made the client. The trajectory stays queryable through
        ``client.trajectory(episode_id)`` for a while."""
        self._close_episode()
        if self._owns_client:
            self.client.disconnect()

    def _draw_server_seed(self, seed: Optional[int]) -> int:
        if HAS_GYMNASIUM:
            super().reset(seed=seed)  # seeds self.np_random when a seed is given
            return int(self.np_random.integers(0, SERVER_SEED_LIMIT))
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or seed < 0):
            raise ValueError(f"a seed is a non-negative integer, not {seed!r}")
        if seed is not None or self._rng is None:
            self._rng = random.Random(seed)  # None: seeded from the operating system
        return self._rng.randrange(SERVER_SEED_LIMIT)

    def _server_options(self) -> Dict[str, Any]:
        options: Dict[str, Any] = {}
        if self.max_steps is not None:
            options["max_steps"] = self.max_steps
        if self.command_timeout is not None:
            options["command_timeout"] = self.command_timeout
        return options

    def _observe(self, text: str, info: JSON) -> str:
        observation, cut = self.observation_space.fit(text)
        if cut:
            info["observation_cut_chars"] = cut
        self._last_observation = observation
        return observation

    def _close_episode(self) -> None:
        # An episode that ended (terminated or truncated) released its sandbox already.
        if self.episode_id is not None and self._running:
            self.client.close(self.episode_id)
            self._running = False

    def __enter__(self) -> "HGymEnv":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HGymEnv({self.client.base_url!r}, task={self.task!r}, episode_id={self.episode_id!r})"
