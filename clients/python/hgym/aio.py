"""Many episodes over one WebSocket, with asyncio (needs the ``websockets`` package).

Every request frame carries an ``id``; the server's answers echo it, so any number of
episodes can share the socket and their steps run at the same time. While a command runs,
the server streams ``output`` frames (chunks of stdout and stderr) before the step's
``step_result``; pass ``on_output`` to see them as they come.

A step's callback gets its chunks one at a time and in order, all before the step's result,
on a task of the step's own: a slow callback holds up its own step, never another episode's
frames or results. A coroutine function is awaited on the event loop; a plain function runs
on a worker thread (up to ``callback_threads`` at once), so one that blocks (writes to a
slow file, ``time.sleep``) blocks neither the loop nor the socket.

>>> async with AsyncClient("http://127.0.0.1:8000") as client:
...     episode = await client.reset(task="func_localize", seed=1)
...     result = await client.step(episode.episode_id, {"tool": "execute_bash", "arguments": {"command": "ls"}},
...                                 on_output=lambda chunk: print(chunk.data, end=""))
...     await client.close(episode.episode_id)

Retries follow the REST client's rules: ``reset`` is retried after the codes that mean the
server did nothing (``Capacity``, ``PoolClosed``, ``ShuttingDown``, ``SandboxStart``);
``step`` never. If the socket drops, pending requests raise ``TransportError``; the episodes
stay open on the server for its grace period (30 s by default), so a new client may go on
with them by id.
"""

import asyncio
import collections
import concurrent.futures
import inspect
import itertools
import json
import logging
import os
import time
import urllib.parse
from typing import Any, Awaitable, Callable, Deque, Dict, Mapping, Optional, Tuple, Union

from .client import DEFAULT_URL, USER_AGENT, reset_fields
from .errors import RETRYABLE_RESET_CODES, HGymError, TransportError, error_from_body
from .results import JSON, Action, OutputChunk, ResetResult, StepResult, normalize_action
from .retry import RetryPolicy

__all__ = ["AsyncClient", "OutputCallback", "websocket_url"]

log = logging.getLogger("hgym.aio")

OutputCallback = Callable[[OutputChunk], Union[None, Awaitable[None]]]

MISSING_WEBSOCKETS = (
    "hgym.AsyncClient needs the 'websockets' package, which is not installed for this Python "
    "({python}). On Debian: apt-get install python3-websockets (for /usr/bin/python3); "
    "elsewhere: pip install websockets. The REST client (hgym.Client) needs nothing."
)


def _connector() -> Callable[..., Any]:
    """websockets' connect, whichever generation is installed, taking ``headers=``."""
    try:
        import websockets  # noqa: F401
    except ImportError:
        import sys

        raise ImportError(MISSING_WEBSOCKETS.format(python=sys.executable)) from None
    try:
        from websockets.asyncio.client import connect as new_connect  # websockets >= 13

        def connect(uri: str, headers: Dict[str, str], **kwargs: Any) -> Any:
            return new_connect(uri, additional_headers=headers, **kwargs)
    except ImportError:
        from websockets.legacy.client import connect as legacy_connect  # websockets 10 to 12

        def connect(uri: str, headers: Dict[str, str], **kwargs: Any) -> Any:
            return legacy_connect(uri, extra_headers=headers, **kwargs)

    return connect


_Answer = Tuple["asyncio.Future[JSON]", JSON]
_RunSync = Callable[[OutputCallback, OutputChunk], Awaitable[Any]]


class _Inbox:
    """One request's streamed chunks, handed to its callback one at a time and in order on
    a task of their own, then its answer: the reader never waits for a callback, so a slow
    one holds up its own step only."""

    def __init__(self, callback: OutputCallback, run_sync: _RunSync) -> None:
        self.callback = callback
        self._run_sync = run_sync
        self._items: Deque[Union[OutputChunk, _Answer]] = collections.deque()
        self._worker: Optional["asyncio.Task[None]"] = None

    @property
    def busy(self) -> bool:
        return self._worker is not None and not self._worker.done()

    def put(self, item: Union[OutputChunk, _Answer]) -> None:
        self._items.append(item)
        if not self.busy:
            self._worker = asyncio.get_running_loop().create_task(self._drain())

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    async def _drain(self) -> None:
        while self._items:
            item = self._items.popleft()
            if isinstance(item, OutputChunk):
                await self._deliver(item)
            elif not item[0].done():
                item[0].set_result(item[1])

    async def _deliver(self, chunk: OutputChunk) -> None:
        callback = self.callback
        try:
            if inspect.iscoroutinefunction(callback):
                await callback(chunk)
            else:
                outcome = await self._run_sync(callback, chunk)
                if inspect.isawaitable(outcome):
                    await outcome
        except Exception:
            log.exception("the output callback failed")


def websocket_url(base_url: str) -> str:
    """``http(s)://host:port[/prefix]`` → ``ws(s)://host:port[/prefix]/v1/ws``."""
    parts = urllib.parse.urlsplit(base_url.rstrip("/"))
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"not an http(s) or ws(s) URL: {base_url}")
    return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path + "/v1/ws", "", ""))


class AsyncClient:
    """One WebSocket to an hgym server, shared by any number of concurrent episodes.

    ``base_url`` and ``api_key`` default as for :class:`hgym.Client` (``$HGYM_URL``,
    ``$HGYM_API_KEY``). ``timeout`` bounds the wait for each answer, in seconds.
    ``on_output`` receives every streamed output chunk not claimed by a step's own callback.
    ``callback_threads`` bounds the worker threads that run plain-function callbacks.

    Use it as ``async with AsyncClient(...) as client:``, or ``await client.connect()`` and
    ``await client.aclose()``. ``close(episode_id)`` closes an episode, not the socket.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: float = 300.0,
        on_output: Optional[OutputCallback] = None,
        retry: Optional[RetryPolicy] = None,
        open_timeout: float = 10.0,
        close_timeout: float = 2.0,
        max_size: int = 16 * 1024 * 1024,
        callback_threads: int = 32,
    ) -> None:
        self._connect = _connector()  # fails here, clearly, when websockets is missing
        self.base_url = (base_url or os.environ.get("HGYM_URL") or DEFAULT_URL).rstrip("/")
        self.url = websocket_url(self.base_url)
        self.api_key = api_key if api_key is not None else os.environ.get("HGYM_API_KEY") or None
        self.timeout = timeout
        self.on_output = on_output
        self.retry = retry if retry is not None else RetryPolicy()
        self.open_timeout = open_timeout
        self.close_timeout = close_timeout
        self.max_size = max_size
        self._ws: Any = None
        self._reader: Optional["asyncio.Task[None]"] = None
        self._ids = itertools.count(1)
        self._pending: Dict[int, "asyncio.Future[JSON]"] = {}
        self._output: Dict[int, Optional[OutputCallback]] = {}
        self._inboxes: Dict[Optional[int], _Inbox] = {}  # by request id; None: chunks of no request
        self.callback_threads = callback_threads
        self._threads: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._send_lock: Optional[asyncio.Lock] = None
        self._lost: Optional[HGymError] = None

    # -- connection -----------------------------------------------------------------------

    async def connect(self) -> "AsyncClient":
        if self._ws is not None:
            return self
        headers = {"user-agent": USER_AGENT}
        if self.api_key:
            headers["authorization"] = f"Bearer {self.api_key}"
        try:
            # close_timeout also bounds how long a refused handshake (a 401, say) waits for the
            # server to hang up before the refusal is reported; websockets' default is 10 s.
            self._ws = await self._connect(
                self.url, headers, max_size=self.max_size, open_timeout=self.open_timeout, close_timeout=self.close_timeout
            )
        except Exception as err:
            raise _handshake_error(err, self.url) from None
        self._send_lock = asyncio.Lock()
        self._lost = None
        # Start reading before any request goes out: an answer must find its waiter.
        self._reader = asyncio.get_running_loop().create_task(self._read())
        return self

    async def aclose(self) -> None:
        """Closes the socket. Episodes still open are closed by the server after its grace
        period; close them first with ``close(episode_id)`` to free their sandboxes now."""
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                self._reader.cancel()
            self._reader = None
        inboxes, self._inboxes = list(self._inboxes.values()), {}
        for inbox in inboxes:
            inbox.cancel()
        if self._threads is not None:
            # A callback still running on a thread finishes there; nobody waits for it.
            self._threads.shutdown(wait=False)
            self._threads = None

    async def __aenter__(self) -> "AsyncClient":
        return await self.connect()

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    # -- episodes -------------------------------------------------------------------------

    async def reset(
        self,
        task: Optional[str] = None,
        seed: Optional[int] = None,
        instance_id: Optional[str] = None,
        options: Optional[Mapping[str, Any]] = None,
    ) -> ResetResult:
        """Starts an episode (the fields of ``hgym.Client.reset``)."""
        frame: Dict[str, Any] = {"type": "reset", **reset_fields(task, seed, instance_id, options)}
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                return ResetResult.from_json(await self._request(frame, "reset_result"))
            except HGymError as err:
                if err.code not in RETRYABLE_RESET_CODES or attempt >= self.retry.attempts:
                    raise
                delay = self.retry.delay(attempt, None)
                if time.monotonic() - started + delay > self.retry.deadline:
                    raise
                await asyncio.sleep(delay)

    async def step(self, episode_id: str, action: Action, on_output: Optional[OutputCallback] = None) -> StepResult:
        """Runs one action; ``on_output`` (or the client's) gets each output chunk first.
        Never retried. After the episode ended, raises ``EpisodeEnded``."""
        frame = {"type": "step", "episode_id": episode_id, "action": normalize_action(action)}
        return StepResult.from_json(await self._request(frame, "step_result", on_output))

    async def close(self, episode_id: str) -> bool:
        """Closes an episode and releases its sandbox (idempotent)."""
        return bool((await self._request({"type": "close", "episode_id": episode_id}, "closed")).get("closed"))

    async def ping(self) -> float:
        """Round trip through the server, in seconds."""
        started = time.perf_counter()
        await self._request({"type": "ping"}, "pong")
        return time.perf_counter() - started

    # -- frames ---------------------------------------------------------------------------

    async def _request(self, frame: Dict[str, Any], answer: str, on_output: Optional[OutputCallback] = None) -> JSON:
        if self._ws is None:
            raise TransportError("the client is not connected: use 'async with AsyncClient(...)' or await connect()")
        if self._lost is not None:
            raise self._lost
        assert self._send_lock is not None
        request_id = next(self._ids)
        future: "asyncio.Future[JSON]" = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        self._output[request_id] = on_output
        try:
            async with self._send_lock:
                await self._ws.send(json.dumps({**frame, "id": request_id}))
            reply = await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            raise TransportError(f"no answer to {frame['type']} within {self.timeout} s") from None
        except HGymError:
            raise
        except Exception as err:  # the socket failed while sending
            raise self._lost or TransportError(f"the WebSocket failed: {err}") from None
        finally:
            self._pending.pop(request_id, None)
            self._output.pop(request_id, None)
            inbox = self._inboxes.pop(request_id, None)
            if inbox is not None:
                inbox.cancel()  # done by now unless the wait ended first (timeout, cancel)
        if reply.get("type") == "error":
            raise error_from_body(reply)
        if reply.get("type") != answer:
            raise TransportError(f"expected a {answer} frame, got {reply.get('type')!r}")
        return reply

    async def _read(self) -> None:
        ws = self._ws
        try:
            while True:
                raw = await ws.recv()
                try:
                    frame = json.loads(raw)
                except ValueError:
                    log.warning("ignoring a frame that is not JSON: %.200r", raw)
                    continue
                if not isinstance(frame, dict):
                    continue
                self._dispatch(frame)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # the socket closed or failed: nothing more will answer
            self._lost = TransportError(f"the WebSocket closed: {err}")
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(self._lost)

    def _dispatch(self, frame: JSON) -> None:
        # Never awaits: callbacks run on their request's inbox (see _Inbox).
        request_id = frame.get("id")
        if not isinstance(request_id, int):
            request_id = None
        if frame.get("type") == "output":
            callback = self._output.get(request_id) if request_id in self._pending else None
            callback = callback or self.on_output
            if callback is None:
                return
            key = request_id if request_id in self._pending else None
            inbox = self._inboxes.get(key)
            if inbox is None:
                inbox = self._inboxes[key] = _Inbox(callback, self._run_sync)
            inbox.put(OutputChunk(str(frame.get("episode_id")), str(frame.get("stream")), str(frame.get("data", ""))))
            return
        future = self._pending.get(request_id) if request_id is not None else None
        if future is not None and not future.done():
            inbox = self._inboxes.get(request_id)
            if inbox is not None and inbox.busy:
                inbox.put((future, frame))  # after the chunks still being handed over
            else:
                future.set_result(frame)
        elif frame.get("type") == "error":
            # An error about no request of ours (id null: a frame the server could not parse).
            log.warning("the server reported an error: %s %s", frame.get("code"), frame.get("message"))

    def _run_sync(self, callback: OutputCallback, chunk: OutputChunk) -> "asyncio.Future[Any]":
        if self._threads is None:
            self._threads = concurrent.futures.ThreadPoolExecutor(self.callback_threads, thread_name_prefix="hgym-output")
        return asyncio.get_running_loop().run_in_executor(self._threads, callback, chunk)


def _handshake_error(err: Exception, url: str) -> HGymError:
    """The handshake's failure as a coded error where the server answered with one (401)."""
    status = getattr(err, "status_code", None)
    response = getattr(err, "response", None)  # websockets >= 13: InvalidStatus.response
    if status is None and response is not None:
        status = getattr(response, "status_code", None)
    body: Any = None
    raw = getattr(response, "body", None)
    if raw:
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
    if isinstance(body, dict) and "code" in body:
        return error_from_body(body, status=status)
    # websockets before 13 does not keep the refusal's body: the status is all there is.
    if status == 401:
        return error_from_body({"code": "HGYM_ERR_UNAUTHORIZED", "message": f"the server refused the WebSocket at {url}: a valid bearer token is required"}, status=401)
    if status is not None:
        return TransportError(f"the server refused the WebSocket at {url} with HTTP {status}", status=status)
    return TransportError(f"cannot open a WebSocket to {url}: {type(err).__name__}: {err}")
