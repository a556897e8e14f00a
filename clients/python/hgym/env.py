"""A Gymnasium-style environment over the REST client.

When ``gymnasium`` is importable, :class:`HGymEnv` subclasses ``gymnasium.Env`` and its
spaces subclass ``gymnasium.spaces.Space``; without it they are plain classes with the same
methods, so nothing here needs gymnasium.
"""

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .client import Client
from .errors import ResetNeeded
from .retry import RetryPolicy
from .results import JSON, Action, normalize_action

try:  # Optional: the environment works the same without it.
    import gymnasium as _gymnasium

    _EnvBase: Any = _gymnasium.Env
    _SpaceBase: Any = _gymnasium.spaces.Space
    HAS_GYMNASIUM = True
except ImportError:
    _EnvBase = object
    _SpaceBase = object
    HAS_GYMNASIUM = False

__all__ = ["HGymEnv", "ActionSpace", "ObservationSpace", "HAS_GYMNASIUM"]


class _Space(_SpaceBase):  # type: ignore[misc, valid-type]
    """Shared by both spaces: no fixed shape, not flattenable to a numeric array."""

    def __init__(self) -> None:
        if HAS_GYMNASIUM:
            super().__init__(shape=None, dtype=None)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __contains__(self, x: Any) -> bool:
        return self.contains(x)

    def contains(self, x: Any) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError


class ObservationSpace(_Space):
    """An observation is text: the task's instruction after reset, a tool's output after a
    step (capped by the server, keeping head and tail)."""

    def contains(self, x: Any) -> bool:
        return isinstance(x, str)

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        return ""

    def __repr__(self) -> str:
        return "ObservationSpace(text)"


class ActionSpace(_Space):
    """An action is a tool call ``{"tool": name, "arguments": {...}}`` with a tool from
    ``tools`` (the OpenAI function-calling definitions the server lists), or a plain
    message ``{"message": text}``. ``contains`` checks the shape and the tool name only;
    the server checks arguments and answers mistakes with an observation."""

    def __init__(self, tools: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__()
        self.tools: List[JSON] = [dict(t) for t in tools]

    @property
    def tool_names(self) -> List[str]:
        return [str(t.get("function", {}).get("name")) for t in self.tools]

    def contains(self, x: Any) -> bool:
        if not isinstance(x, Mapping):
            return False
        if set(x) == {"message"}:
            return isinstance(x["message"], str)
        if "tool" not in x or not set(x) <= {"tool", "arguments"}:
            return False
        return x["tool"] in self.tool_names and isinstance(x.get("arguments", {}), Mapping)

    def sample(self, mask: Any = None, probability: Any = None) -> JSON:
        # The one action that is always valid and changes nothing.
        return {"tool": "think", "arguments": {"thought": "sampled action"}}

    def __repr__(self) -> str:
        return f"ActionSpace(tools={self.tool_names})"


class HGymEnv(_EnvBase):  # type: ignore[misc, valid-type]
    """One hgym episode at a time, with Gymnasium's contract.

    >>> env = HGymEnv("http://127.0.0.1:8000", task="func_localize")
    >>> obs, info = env.reset(seed=1)
    >>> obs, reward, terminated, truncated, info = env.step({"tool": "finish", "arguments": {}})
    >>> env.close()

    ``reset`` closes the episode in progress, if any, and starts a new one; ``options`` may
    carry ``task`` or ``instance_id`` (for this reset only) besides the server's options
    (``max_steps``, ``command_timeout``). ``info`` after reset holds ``episode_id``,
    ``task``, ``instance_id``, ``max_steps``, ``tools`` and ``workspace``.

    ``step`` after the episode ended raises :class:`hgym.EpisodeEnded` (the server's 409);
    before any reset it raises :class:`hgym.ResetNeeded`. Steps are never retried.
    """

    metadata: Dict[str, Any] = {"render_modes": []}
    render_mode = None

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
    ) -> None:
        if HAS_GYMNASIUM:
            super().__init__()
        self.client = client if client is not None else Client(base_url, api_key=api_key, timeout=timeout, retry=retry)
        self.task = task
        self.instance_id = instance_id
        self.server_options: Dict[str, Any] = {}
        if max_steps is not None:
            self.server_options["max_steps"] = max_steps
        if command_timeout is not None:
            self.server_options["command_timeout"] = command_timeout
        self.episode_id: Optional[str] = None
        self.observation_space = ObservationSpace()
        # Filled from the server at the first reset; fetched now would cost a request on
        # construction, which Gymnasium's make() and vector envs do eagerly.
        self.action_space = ActionSpace()

    def reset(self, *, seed: Optional[int] = None, options: Optional[Mapping[str, Any]] = None) -> Tuple[str, JSON]:
        if HAS_GYMNASIUM:
            super().reset(seed=seed)
        self._close_episode()
        opts = dict(options or {})
        task = opts.pop("task", self.task)
        instance_id = opts.pop("instance_id", self.instance_id)
        server_options = {**self.server_options, **opts}
        result = self.client.reset(task=task, seed=seed, instance_id=instance_id, options=server_options or None)
        self.episode_id = result.episode_id
        tools = result.info.get("tools")
        if isinstance(tools, list):
            self.action_space = ActionSpace(tools)
        info = dict(result.info)
        info["episode_id"] = result.episode_id
        return result.observation, info

    def step(self, action: Action) -> Tuple[str, float, bool, bool, JSON]:
        if self.episode_id is None:
            raise ResetNeeded("call reset() before step()")
        result = self.client.step(self.episode_id, normalize_action(action))
        return result.observation, result.reward, result.terminated, result.truncated, result.info

    def state(self) -> JSON:
        if self.episode_id is None:
            raise ResetNeeded("no episode yet: call reset()")
        return self.client.state(self.episode_id)

    def trajectory(self) -> JSON:
        if self.episode_id is None:
            raise ResetNeeded("no episode yet: call reset()")
        return self.client.trajectory(self.episode_id)

    def render(self) -> None:
        return None

    def close(self) -> None:
        """Releases the episode's sandbox (idempotent). The trajectory stays queryable
        through ``client.trajectory(episode_id)`` for a while."""
        self._close_episode()

    def _close_episode(self) -> None:
        if self.episode_id is not None:
            self.client.close(self.episode_id)

    def __enter__(self) -> "HGymEnv":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HGymEnv({self.client.base_url!r}, task={self.task!r}, episode_id={self.episode_id!r})"
