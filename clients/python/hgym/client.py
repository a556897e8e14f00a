"""The REST client: reset, step, close and the read-only routes, standard library only.

Requests go over keep-alive HTTP/1.1 connections, one per thread (see ``connections.py``):
one client may be shared by many threads. A connection the server closed while it was idle
is replaced before anything is sent on it, whatever the request.

Retries are made only where repeating a request cannot do anything twice:

- ``reset`` is retried when the request never reached the server (no connection could be
  made, or sending failed) and on the 503 codes after which the server did nothing
  (``Capacity``, ``PoolClosed``, ``ShuttingDown``, ``SandboxStart``), waiting as long as
  ``Retry-After`` says. It is not retried when the request was sent and the answer lost:
  the server may have started an episode, and a second reset would start another (the
  first is closed when idle).
- ``close`` (DELETE, idempotent), and every GET, are also retried when the answer was lost.
- ``step`` is never retried: a step that reached the server ran, and running it again
  would run the command twice and cost a second step. A failed step raises; look at
  ``state(episode_id)`` to see whether it counted.
"""

import json
import os
import ssl
import time
import urllib.parse
from typing import Any, Dict, List, Mapping, Optional

from .connections import Connections, Lost, Unsent
from .errors import RETRYABLE_RESET_CODES, HGymError, TransportError, error_from_body
from .retry import RetryPolicy, parse_retry_after
from .results import JSON, Action, ResetResult, StepResult, normalize_action

__all__ = ["Client", "DEFAULT_URL"]

DEFAULT_URL = "http://127.0.0.1:8000"
USER_AGENT = "hgym-python/0.1"

# How a request may be repeated (see the module docstring).
_NEVER = "never"
_RESET = "reset"
_IDEMPOTENT = "idempotent"


def reset_fields(task: Optional[str], seed: Optional[int], instance_id: Optional[str], options: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The fields of a reset request, without those left unset (REST body or WebSocket frame)."""
    fields: Dict[str, Any] = {}
    if task is not None:
        fields["task"] = task
    if seed is not None:
        fields["seed"] = seed
    if instance_id is not None:
        fields["instance_id"] = instance_id
    if options:
        fields["options"] = dict(options)
    return fields

class Client:
    """An hgym server over REST.

    ``base_url`` (``http://`` or ``https://``, with an optional path prefix) defaults to
    ``$HGYM_URL`` or http://127.0.0.1:8000; ``api_key`` to ``$HGYM_API_KEY`` (sent as
    ``Authorization: Bearer``). ``timeout`` bounds connecting and each wait for the server,
    in seconds; a step waits for its command (up to the server's command timeout) and, at
    the end, for grading, so keep it above both. ``ssl_context`` verifies an https server
    (default: the system's certificate authorities).

    One client may be shared by many threads: each thread has its own keep-alive
    connection. ``disconnect()``, or leaving ``with Client(...) as client:``, closes them.

    Errors are raised as subclasses of :class:`hgym.HGymError` chosen by the server's
    ``code``; an agent's mistakes are observations, not errors.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        timeout: float = 300.0,
        retry: Optional[RetryPolicy] = None,
        *,
        ssl_context: Optional[ssl.SSLContext] = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get("HGYM_URL") or DEFAULT_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("HGYM_API_KEY") or None
        self.retry = retry if retry is not None else RetryPolicy()
        self._connections = Connections(self.base_url, timeout, ssl_context)

    @property
    def timeout(self) -> float:
        return self._connections.timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self._connections.timeout = seconds

    def disconnect(self) -> None:
        """Closes the client's connections, every thread's. The client stays usable: a
        later request opens a new connection. Call it when no request is in flight."""
        self._connections.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.disconnect()

    def __repr__(self) -> str:
        return f"Client({self.base_url!r})"

    # -- episodes -------------------------------------------------------------------------

    def reset(
        self,
        task: Optional[str] = None,
        seed: Optional[int] = None,
        instance_id: Optional[str] = None,
        options: Optional[Mapping[str, Any]] = None,
    ) -> ResetResult:
        """Starts an episode. ``task`` is a family name (None: any), ``seed`` picks the same
        instance on the same corpus every time, ``instance_id`` picks one exactly, and
        ``options`` may lower ``max_steps`` or ``command_timeout`` (seconds)."""
        body = reset_fields(task, seed, instance_id, options)
        return ResetResult.from_json(self._request("POST", "/v1/episodes", body, _RESET))

    def step(self, episode_id: str, action: Action) -> StepResult:
        """Runs one action: ``{"tool": name, "arguments": {...}}`` or ``{"message": text}``
        (a plain string is taken as a message). Never retried (see the module docstring).
        After the episode ended the server answers 409, raised as ``EpisodeEnded``."""
        body = {"action": normalize_action(action)}
        return StepResult.from_json(self._request("POST", f"/v1/episodes/{_quote(episode_id)}/step", body, _NEVER))

    def close(self, episode_id: str) -> bool:
        """Closes the episode and releases its sandbox. Idempotent: closing an unknown or
        already closed episode is not an error. True when the server knew the episode."""
        return bool(self._request("DELETE", f"/v1/episodes/{_quote(episode_id)}", None, _IDEMPOTENT).get("closed"))

    def state(self, episode_id: str) -> JSON:
        """The episode's task, instance, status, step count, timestamps and reward."""
        return self._request("GET", f"/v1/episodes/{_quote(episode_id)}", None, _IDEMPOTENT)

    def trajectory(self, episode_id: str) -> JSON:
        """Every step so far (action, observation, timing) and, once ended, the reward and
        its breakdown (``grade``). Ended episodes stay queryable for a while (30 minutes by
        default), then are forgotten: fetch what you keep."""
        return self._request("GET", f"/v1/episodes/{_quote(episode_id)}/trajectory", None, _IDEMPOTENT)

    # -- what the server offers -----------------------------------------------------------

    def tools(self) -> List[JSON]:
        """The action space in the OpenAI function-calling shape, ready to hand to a model."""
        return list(self._request("GET", "/v1/tools", None, _IDEMPOTENT)["tools"])

    def tasks(self) -> JSON:
        """The task families loaded, their instance counts, and the corpus directory."""
        return self._request("GET", "/v1/tasks", None, _IDEMPOTENT)

    def health(self) -> JSON:
        """``{"status": "ok", "instance": <server id>}``."""
        return self._request("GET", "/healthz", None, _IDEMPOTENT)

    def wait_ready(self, timeout: float = 60.0, interval: float = 0.5) -> JSON:
        """Polls ``/readyz`` until the server has warm sandboxes; raises ``TransportError``
        with the server's reasons when ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                return self._request("GET", "/readyz", None, _NEVER)
            except HGymError as err:
                last = err.body.get("problems") if err.body else err
            if time.monotonic() + interval > deadline:
                raise TransportError(f"the server was not ready within {timeout} s: {last}")
            time.sleep(interval)

    # -- transport ------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Optional[Mapping[str, Any]], kind: str) -> JSON:
        policy = self.retry
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(method, path, body)
            except HGymError as err:
                failure: HGymError = err
                retryable = (kind == _IDEMPOTENT and err.status == 503) or (kind == _RESET and err.code in RETRYABLE_RESET_CODES)
                wait_hint = err.retry_after
            except Unsent as err:
                failure = TransportError(f"{method} {self.base_url}{path}: not sent, no connection: {err}")
                retryable = kind != _NEVER and not err.final
                wait_hint = None
            except Lost as err:
                failure = TransportError(f"{method} {self.base_url}{path}: the request was sent and no answer came: {err}")
                retryable = kind == _IDEMPOTENT
                wait_hint = None
            if not retryable or attempt >= policy.attempts:
                raise failure
            delay = policy.delay(attempt, wait_hint)
            if time.monotonic() - started + delay > policy.deadline:
                raise failure
            policy.sleep(delay)

    def _once(self, method: str, path: str, body: Optional[Mapping[str, Any]]) -> JSON:
        headers = {"accept": "application/json", "user-agent": USER_AGENT}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["content-type"] = "application/json"
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        status, answer_headers, raw = self._connections.request(method, path, data, headers)
        parsed = _json_or_none(raw)
        if not 200 <= status < 300:
            retry_after = parse_retry_after(answer_headers.get("retry-after"))
            raise error_from_body(parsed, status=status, retry_after=retry_after)
        if not isinstance(parsed, dict):
            raise TransportError(f"{method} {path}: the server answered {status} with a body that is not a JSON object", status=status)
        return parsed


def _quote(segment: str) -> str:
    return urllib.parse.quote(str(segment), safe="")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw)  # bytes: json detects UTF-8 itself
    except ValueError:  # UnicodeDecodeError is a ValueError
        return None
