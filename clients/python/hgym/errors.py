"""Coded errors: one exception class per server error code.

The server answers every failure with ``{status_code, code, error, message}`` (REST) or an
``error`` frame ``{code, message}`` (WebSocket). The class raised is chosen from ``code``
alone, never from the message, which the server may reword. The codes and what they mean
are listed in docs/errors.md of the hgym repository.

An agent's own mistakes (an unknown tool, bad arguments, a missing file) are not errors:
the server answers them with an observation, and so does this client.
"""

from typing import Any, Dict, Mapping, Optional, Type


class HGymError(Exception):
    """Base class of every error this package raises.

    ``code`` is the server's stable code (``HGYM_ERR_...``), or ``None`` when the failure
    happened before the server could answer (no connection, an answer that is not hgym's).
    ``status`` is the HTTP status (``None`` over WebSocket or without an answer).
    ``retry_after`` is the server's ``Retry-After`` in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status: Optional[int] = None,
        retry_after: Optional[float] = None,
        body: Optional[Mapping[str, Any]] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retry_after = retry_after
        self.body = dict(body) if body is not None else None

    def __str__(self) -> str:
        where = " ".join(str(x) for x in (self.status, self.code) if x is not None)
        return f"[{where}] {self.message}" if where else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, message={self.message!r})"


class TransportError(HGymError):
    """No usable answer: the connection failed or dropped, timed out, or the answer was not
    an hgym JSON error (a proxy's HTML page, say). ``code`` is ``None``."""


class ResetNeeded(HGymError):
    """``HGymEnv.step`` was called before ``reset`` (raised locally, not by the server)."""


class Unavailable(HGymError):
    """The server cannot take the request now (HTTP 503). ``Capacity``, ``PoolClosed`` and
    ``SandboxStart`` are transient; ``DockerUnavailable`` and ``ImageMissing`` need the
    operator (``npx hgym setup``)."""


class SandboxError(HGymError):
    """The episode's sandbox failed (HTTP 502): infrastructure, never the agent's score."""


class BadRequest(HGymError):
    """HGYM_ERR_BAD_REQUEST (400): the body or frame does not match the schema; the message
    carries the schema's complaint."""


class Unauthorized(HGymError):
    """HGYM_ERR_UNAUTHORIZED (401): the server has an API key and the request lacks it."""


class NotFound(HGymError):
    """HGYM_ERR_NOT_FOUND (404): no such episode, task family, instance, schema or route."""


class EpisodeEnded(HGymError):
    """HGYM_ERR_EPISODE_ENDED (409): a step was sent to an episode that is terminated,
    truncated or closed. Start a new episode with reset."""


class SandboxReleased(HGymError):
    """HGYM_ERR_SANDBOX_RELEASED (409)."""


class SandboxBusy(HGymError):
    """HGYM_ERR_SANDBOX_BUSY (409)."""


class Capacity(Unavailable):
    """HGYM_ERR_CAPACITY (503, with Retry-After): every episode slot is taken. ``reset``
    retries it by itself, honouring Retry-After, until its retry budget is spent."""


class PoolClosed(Unavailable):
    """HGYM_ERR_POOL_CLOSED (503): the server is shutting down."""


class ShuttingDown(Unavailable):
    """HGYM_ERR_SHUTTING_DOWN (503, with Retry-After): the server is closing; it finishes
    what it started and takes no new request. ``reset`` retries it (another server behind
    the same address, or this one back, may take it)."""


class SandboxStart(Unavailable):
    """HGYM_ERR_SANDBOX_START (503): a container could not be started; it was removed."""


class DockerUnavailable(Unavailable):
    """HGYM_ERR_DOCKER_UNAVAILABLE (503): the server reaches no Docker engine."""


class ImageMissing(Unavailable):
    """HGYM_ERR_IMAGE_MISSING (503): the sandbox image is not built on the server."""


class SandboxLost(SandboxError):
    """HGYM_ERR_SANDBOX_LOST (502): the episode's container died. The episode is over and
    has no reward; it is not a score of 0."""


class ExecutorError(SandboxError):
    """HGYM_ERR_EXECUTOR (502): the in-container executor failed."""


class CorpusLeak(HGymError):
    """HGYM_ERR_CORPUS_LEAK (500): a file of the served corpus is in the sandbox image; the
    server refused to serve it (see the server's docs/errors.md)."""


class GradingFailed(HGymError):
    """HGYM_ERR_GRADING_FAILED (500): grading could not complete for a reason the agent did
    not cause. The episode ended as `failed`, without a reward; it is not a score of 0."""


class InternalError(HGymError):
    """HGYM_ERR_INTERNAL (500): a server failure no other code describes."""


ERROR_CLASSES: Dict[str, Type[HGymError]] = {
    "HGYM_ERR_SANDBOX_LOST": SandboxLost,
    "HGYM_ERR_SANDBOX_START": SandboxStart,
    "HGYM_ERR_SANDBOX_RELEASED": SandboxReleased,
    "HGYM_ERR_SANDBOX_BUSY": SandboxBusy,
    "HGYM_ERR_POOL_CLOSED": PoolClosed,
    "HGYM_ERR_SHUTTING_DOWN": ShuttingDown,
    "HGYM_ERR_CAPACITY": Capacity,
    "HGYM_ERR_DOCKER_UNAVAILABLE": DockerUnavailable,
    "HGYM_ERR_IMAGE_MISSING": ImageMissing,
    "HGYM_ERR_EXECUTOR": ExecutorError,
    "HGYM_ERR_BAD_REQUEST": BadRequest,
    "HGYM_ERR_UNAUTHORIZED": Unauthorized,
    "HGYM_ERR_NOT_FOUND": NotFound,
    "HGYM_ERR_EPISODE_ENDED": EpisodeEnded,
    "HGYM_ERR_CORPUS_LEAK": CorpusLeak,
    "HGYM_ERR_GRADING_FAILED": GradingFailed,
    "HGYM_ERR_INTERNAL": InternalError,
}

# Codes after which a reset did nothing on the server and may succeed a moment later.
RETRYABLE_RESET_CODES = frozenset({"HGYM_ERR_CAPACITY", "HGYM_ERR_POOL_CLOSED", "HGYM_ERR_SHUTTING_DOWN", "HGYM_ERR_SANDBOX_START"})


def _fallback_class(status: Optional[int]) -> Type[HGymError]:
    # A code this version does not know (a newer server): keep the family by status.
    if status == 503:
        return Unavailable
    if status == 502:
        return SandboxError
    return HGymError


def error_from_body(
    body: Any,
    status: Optional[int] = None,
    retry_after: Optional[float] = None,
) -> HGymError:
    """The exception for a server error answer (REST body or WebSocket error frame)."""
    if isinstance(body, Mapping) and isinstance(body.get("code"), str):
        code = body["code"]
        message = body.get("message")
        if status is None and isinstance(body.get("status_code"), int):
            status = body["status_code"]
        cls = ERROR_CLASSES.get(code) or _fallback_class(status)
        return cls(str(message) if message is not None else code, code=code, status=status, retry_after=retry_after, body=body)
    return TransportError(
        f"the server answered {status} without an hgym error body",
        status=status,
        retry_after=retry_after,
        body=body if isinstance(body, Mapping) else None,
    )
