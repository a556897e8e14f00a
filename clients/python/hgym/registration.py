"""What gymnasium needs to know about hgym: the environment id and the observation space's
shared memory. ``import hgym`` runs :func:`register_envs`; without gymnasium it does nothing.

- ``gymnasium.make("hgym/HGym-v0", base_url=..., api_key=..., task=..., max_steps=...)``
  makes an :class:`hgym.HGymEnv` with those keyword arguments. ``gymnasium.make`` is only
  told about the id by ``import hgym``; ``gymnasium.make("hgym:hgym/HGym-v0", ...)`` does
  that import itself. (The package also declares a ``gymnasium.envs`` entry point, which
  gymnasium before 1.0 loaded at import; gymnasium 1.0 dropped that plugin loading.)
- ``max_episode_steps`` given to ``gymnasium.make`` wraps the env in ``TimeLimit``, whose
  truncation the server never sees: the episode would be closed at the next reset,
  ungraded. :class:`ServerStepLimit`, applied by ``make`` to every ``hgym/HGym-v0``, hands
  that limit to the server as ``max_steps`` (the smaller of the two wins), so the server
  truncates at the same step and grades the workspace.
- ``AsyncVectorEnv`` keeps observations in shared memory by default: for
  :class:`hgym.ObservationSpace` that is, per environment, the text's length and its UTF-8
  bytes, in room for ``max_length`` characters of 4 bytes. Batches are tuples of str, as
  gymnasium's own ``Text`` space gives.
"""

import struct
from typing import Any, Iterator, Sequence, Tuple, overload

from .spaces import HAS_GYMNASIUM, ObservationSpace

__all__ = ["ENV_ID", "register_envs"]

ENV_ID = "hgym/HGym-v0"

_LENGTH = struct.Struct("<Q")  # each environment's slot starts with its text's length in bytes


def register_envs() -> None:
    """Registers ``hgym/HGym-v0`` and the observation space's shared memory with gymnasium,
    once (also the ``gymnasium.envs`` entry point's target). Without gymnasium it does
    nothing."""
    if not HAS_GYMNASIUM:
        return
    from gymnasium.envs.registration import WrapperSpec, register, registry

    _teach_vector_utilities()
    if ENV_ID in registry:
        return
    register(
        id=ENV_ID,
        entry_point="hgym.env:HGymEnv",
        # max_steps, not a TimeLimit, ends episodes: the server grades its truncation.
        max_episode_steps=None,
        additional_wrappers=(WrapperSpec("ServerStepLimit", "hgym.registration:ServerStepLimit", {}),),
    )


def _slot_size(space: ObservationSpace) -> int:
    return _LENGTH.size + 4 * space.max_length


class _SharedTexts(Sequence[str]):
    """The observations in shared memory, read when indexed: ``AsyncVectorEnv`` reads its
    buffer once, at construction, and hands out copies of it after each step, so this view
    must follow the memory. A deep copy is a plain tuple of str."""

    def __init__(self, space: ObservationSpace, memory: Any, n: int) -> None:
        self._memory = memory
        self._size = _slot_size(space)
        self._n = n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self)[index]
        if not -self._n <= index < self._n:
            raise IndexError(index)
        start = (index % self._n) * self._size
        view = memoryview(self._memory.get_obj()).cast("B")
        (length,) = _LENGTH.unpack_from(view, start)
        data = bytes(view[start + _LENGTH.size : start + _LENGTH.size + length])
        return data.decode("utf-8", "surrogatepass")

    def __iter__(self) -> Iterator[str]:
        return (self[i] for i in range(self._n))

    def __deepcopy__(self, memo: Any) -> Tuple[str, ...]:
        return tuple(self)

    def __repr__(self) -> str:
        return f"_SharedTexts({tuple(self)!r})"


def _create_shared_memory(space: ObservationSpace, n: int = 1, ctx: Any = None) -> Any:
    import multiprocessing

    return (ctx or multiprocessing).Array("B", n * _slot_size(space))


def _read_from_shared_memory(space: ObservationSpace, shared_memory: Any, n: int = 1) -> _SharedTexts:
    return _SharedTexts(space, shared_memory, n)


def _write_to_shared_memory(space: ObservationSpace, index: int, value: str, shared_memory: Any) -> None:
    if value not in space:
        raise ValueError(f"the observation is not in {space}: a str of at most {space.max_length} characters")
    data = value.encode("utf-8", "surrogatepass")
    start = index * _slot_size(space)
    view = memoryview(shared_memory.get_obj()).cast("B")
    _LENGTH.pack_into(view, start, len(data))
    view[start + _LENGTH.size : start + _LENGTH.size + len(data)] = data


def _create_empty_array(space: ObservationSpace, n: int = 1, fn: Any = None) -> Tuple[str, ...]:
    return ("",) * n


def _teach_vector_utilities() -> None:
    from gymnasium.vector import utils

    utils.create_shared_memory.register(ObservationSpace, _create_shared_memory)
    # gymnasium's own spaces read an array or a tuple; this reads a view of the memory.
    utils.read_from_shared_memory.register(ObservationSpace, _read_from_shared_memory)  # type: ignore[arg-type]
    utils.write_to_shared_memory.register(ObservationSpace, _write_to_shared_memory)
    utils.create_empty_array.register(ObservationSpace, _create_empty_array)


if HAS_GYMNASIUM:
    import gymnasium as _gymnasium

    class ServerStepLimit(_gymnasium.Wrapper[str, Any, str, Any], _gymnasium.utils.RecordConstructorArgs):
        """Gives the server the step limit of a ``TimeLimit`` below this wrapper (what
        ``gymnasium.make(..., max_episode_steps=N)`` adds), as the env's ``max_steps``: the
        smaller wins. The server then truncates at that step and grades; ``TimeLimit``
        truncates at the same step and changes nothing. Without a ``TimeLimit`` it passes
        everything through."""

        def __init__(self, env: Any) -> None:
            _gymnasium.utils.RecordConstructorArgs.__init__(self)
            _gymnasium.Wrapper.__init__(self, env)
            spec = env.spec
            limit = spec.max_episode_steps if spec is not None else None
            base = env.unwrapped
            if limit is not None and limit > 0:
                base.max_steps = limit if base.max_steps is None else min(base.max_steps, limit)
