"""The environment's spaces: text observations and tool-call actions.

When ``gymnasium`` is importable both subclass ``gymnasium.spaces.Space``; without it they
are plain classes with the same methods. Two spaces built alike compare equal and hash
alike (vector environments check that every copy of the environment has the same spaces).
:mod:`hgym.registration` teaches gymnasium's vector utilities to keep observations of this
space in shared memory.
"""

import json
import random
from typing import Any, List, Mapping, Sequence, Tuple

try:  # Optional: the spaces work the same without it.
    import gymnasium as _gymnasium

    _SpaceBase: Any = _gymnasium.spaces.Space
    HAS_GYMNASIUM = True
except ImportError:
    _SpaceBase = object
    HAS_GYMNASIUM = False

from .results import JSON

__all__ = ["ActionSpace", "ObservationSpace", "HAS_GYMNASIUM", "DEFAULT_MAX_OBSERVATION_CHARS"]

# The server cuts a command's output and a file view at 30,000 characters; instructions are
# shorter still. The bound leaves room over both and sizes AsyncVectorEnv's shared memory
# (4 bytes a character at worst: 400 kB an environment).
DEFAULT_MAX_OBSERVATION_CHARS = 100_000


class _Space(_SpaceBase):  # type: ignore[misc]
    """Shared by both spaces: no fixed shape, not flattenable to a numeric array."""

    def __init__(self) -> None:
        if HAS_GYMNASIUM:
            super().__init__(shape=None, dtype=None)
        else:
            self._rng = random.Random()

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def __contains__(self, x: Any) -> bool:
        return self.contains(x)

    def contains(self, x: Any) -> bool:  # pragma: no cover - overridden
        raise NotImplementedError

    def _key(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def _random_below(self, n: int) -> int:
        # gymnasium's spaces sample from their own seeded generator (space.seed(...)).
        return int(self.np_random.integers(0, n)) if HAS_GYMNASIUM else self._rng.randrange(n)


class ObservationSpace(_Space):
    """An observation is text of at most ``max_length`` characters: the task's instruction
    after reset, a tool's output after a step (already cut by the server, keeping head and
    tail). The environment cuts a longer text the same way (:meth:`fit`), so every
    observation it returns is in the space."""

    def __init__(self, max_length: int = DEFAULT_MAX_OBSERVATION_CHARS) -> None:
        if not isinstance(max_length, int) or isinstance(max_length, bool) or max_length < 200:
            raise ValueError(f"max_length is a number of characters of at least 200, not {max_length!r}")
        super().__init__()
        self.max_length = max_length

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def fit(self, text: str) -> Tuple[str, int]:
        """``text`` cut in the middle to ``max_length`` characters, with a note saying how
        many were cut, and that count (0 when it fits)."""
        if len(text) <= self.max_length:
            return text, 0
        cut = len(text) - self.max_length
        while True:
            note = f"\n[... {cut} characters cut by the client: longer than the observation space's max_length, {self.max_length} ...]\n"
            kept = self.max_length - len(note)
            if len(text) - kept == cut:
                break
            cut = len(text) - kept
        head = kept - kept // 2
        return text[:head] + note + text[len(text) - kept // 2 :], cut

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        letters = "abcdefghijklmnopqrstuvwxyz \n"
        return "".join(letters[self._random_below(len(letters))] for _ in range(self._random_below(65)))

    def _key(self) -> Any:
        return self.max_length

    def __repr__(self) -> str:
        return f"ObservationSpace(text, max_length={self.max_length})"


class ActionSpace(_Space):
    """An action is a tool call ``{"tool": name, "arguments": {...}}`` (optionally with
    ``"content"``, the model's text beside the call) with a tool from ``tools`` (the OpenAI
    function-calling definitions the server lists), or a plain message ``{"message": text}``.
    ``contains`` checks the shape and the tool name only; the server checks arguments and
    answers mistakes with an observation."""

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
        if "tool" not in x or not set(x) <= {"tool", "arguments", "content"}:
            return False
        return x["tool"] in self.tool_names and isinstance(x.get("arguments", {}), Mapping) and isinstance(x.get("content", ""), str)

    def sample(self, mask: Any = None, probability: Any = None) -> JSON:
        # The one action that is always valid and changes nothing: a random tool call could
        # run any command in the sandbox.
        return {"tool": "think", "arguments": {"thought": "sampled action"}}

    def _key(self) -> Any:
        return json.dumps(self.tools, sort_keys=True)

    def __repr__(self) -> str:
        return f"ActionSpace(tools={self.tool_names})"

