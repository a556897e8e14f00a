"""Python client for hgym, the environment server for coding agents.

- :class:`Client`: REST, standard library only (reset, step, close, state, trajectory,
  tools, tasks).
- :class:`HGymEnv`: one episode at a time with Gymnasium's reset/step/close contract
  (a ``gymnasium.Env`` when gymnasium is installed, registered as ``hgym/HGym-v0``).
- :class:`AsyncClient`: many concurrent episodes over one WebSocket with streamed command
  output (needs the ``websockets`` package).

Errors are :class:`HGymError` subclasses chosen by the server's error ``code``.
"""

from .aio import AsyncClient, websocket_url
from .client import DEFAULT_URL, Client
from .env import HAS_GYMNASIUM, ActionSpace, HGymEnv, ObservationSpace
from .errors import (
    ERROR_CLASSES,
    BadRequest,
    Capacity,
    DockerUnavailable,
    EpisodeEnded,
    ExecutorError,
    HGymError,
    ImageMissing,
    CorpusLeak,
    GradingFailed,
    InternalError,
    NotFound,
    PoolClosed,
    ResetNeeded,
    SandboxBusy,
    SandboxError,
    SandboxLost,
    SandboxReleased,
    SandboxStart,
    ShuttingDown,
    TransportError,
    Unauthorized,
    Unavailable,
)
from .registration import ENV_ID, register_envs
from .results import OutputChunk, ResetResult, StepResult, action_from_tool_call
from .retry import NO_RETRY, RetryPolicy

register_envs()  # gymnasium.make("hgym/HGym-v0", ...) after `import hgym`

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Client",
    "DEFAULT_URL",
    "HGymEnv",
    "ActionSpace",
    "ObservationSpace",
    "HAS_GYMNASIUM",
    "ENV_ID",
    "ResetResult",
    "StepResult",
    "OutputChunk",
    "action_from_tool_call",
    "RetryPolicy",
    "NO_RETRY",
    "websocket_url",
    "ERROR_CLASSES",
    "HGymError",
    "TransportError",
    "ResetNeeded",
    "Unavailable",
    "SandboxError",
    "BadRequest",
    "Unauthorized",
    "NotFound",
    "EpisodeEnded",
    "SandboxReleased",
    "SandboxBusy",
    "Capacity",
    "PoolClosed",
    "SandboxStart",
    "ShuttingDown",
    "DockerUnavailable",
    "ImageMissing",
    "SandboxLost",
    "ExecutorError",
    "CorpusLeak",
    "GradingFailed",
    "InternalError",
]
