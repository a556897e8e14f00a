"""Keep-alive HTTP/1.1 connections to one server, one per thread, standard library only.

A request goes out on its thread's open connection when there is one. How far a failed
request got decides whether it may go out again:

- a connection the server closed while it sat idle is seen before anything is sent on it
  (the socket reads as closed, or it idled past the server's ``Keep-Alive: timeout``) and is
  replaced at once: nothing was sent, so every request, a step too, goes on a fresh one;
- a request whose sending failed never reached the server whole, and no server acts on a
  request it did not receive in full: it is sent once more on a fresh connection when the
  failed one had been reused (closed under us), else reported as :class:`Unsent`;
- a request that was sent and whose answer did not come may have been acted on. Only an
  idempotent method (GET, DELETE) is sent again, once, and only when a reused connection
  was closed before any answer (the server's idle close crossing our request); anything
  else is :class:`Lost`. A step is a POST: it is never sent twice.
"""

import http.client
import os
import re
import select
import ssl
import threading
import time
import urllib.parse
import weakref
from typing import Dict, List, Mapping, NamedTuple, Optional

__all__ = ["Answer", "Connections", "Lost", "Unsent"]

# RFC 9110's idempotent methods among those the client uses.
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "PUT"})
_KEEP_ALIVE_TIMEOUT = re.compile(r"timeout\s*=\s*(\d+(?:\.\d+)?)")
_NEVER = float("inf")


class Unsent(Exception):
    """The request did not reach the server whole (no connection, or sending failed):
    sending it again cannot do anything twice. ``final`` when trying again cannot help
    (the server's TLS certificate was refused)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.final = isinstance(cause, ssl.SSLCertVerificationError)


class Lost(Exception):
    """The request was sent and no answer came back: the server may have acted on it."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")


class Answer(NamedTuple):
    status: int
    headers: http.client.HTTPMessage
    body: bytes


class _Connection:
    """A thread's connection and until when it may be reused."""

    __slots__ = ("http", "reuse_until", "keep_alive", "idle_limit")

    def __init__(self, connection: http.client.HTTPConnection) -> None:
        self.http = connection
        self.reuse_until = _NEVER
        self.keep_alive: Optional[str] = None  # the last Keep-Alive header read, parsed once
        self.idle_limit = _NEVER


class Connections:
    """Keep-alive connections to ``base_url`` (``http://`` or ``https://``, with an optional
    path prefix), one per thread: threads sharing it never share a socket, so answers
    cannot interleave. A process forked from the owner opens its own. ``timeout`` bounds
    connecting and each read or write, in seconds."""

    def __init__(self, base_url: str, timeout: float, ssl_context: Optional[ssl.SSLContext] = None) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.https = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.https else 80)
        self.prefix = parts.path.rstrip("/")
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._lock = threading.Lock()
        self._by_thread: Dict[int, _Connection] = {}
        _ALL.add(self)

    def request(self, method: str, path: str, body: Optional[bytes], headers: Mapping[str, str]) -> Answer:
        """Sends one request on this thread's connection and reads the whole answer.
        Raises :class:`Unsent` or :class:`Lost` (see the module docstring)."""
        connection = self._connection()
        conn = connection.http
        target = self.prefix + path
        for _ in range(2):
            reused = conn.sock is not None
            if reused and (time.monotonic() >= connection.reuse_until or _closed_by_peer(conn)):
                conn.close()
                reused = False
            try:
                conn.request(method, target, body, headers)
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                if reused:
                    continue
                raise Unsent(err) from None
            try:
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as err:
                conn.close()
                if reused and method in _IDEMPOTENT_METHODS and _closed_before_answer(err):
                    continue
                raise Lost(err) from None
            self._note_keep_alive(connection, response.headers.get("keep-alive"))
            return Answer(response.status, response.headers, data)
        raise AssertionError("unreachable: the second try is on a fresh connection")

    def close(self) -> None:
        """Closes every connection, of every thread. A request in flight on another thread
        fails; a later request opens a new connection."""
        with self._lock:
            connections, self._by_thread = list(self._by_thread.values()), {}
        for connection in connections:
            connection.http.close()

    def _connection(self) -> _Connection:
        connection = self._by_thread.get(threading.get_ident())
        if connection is None or connection.http.timeout != self.timeout:
            connection = self._open()
        return connection

    def _open(self) -> _Connection:
        if self.https:
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=self.timeout, context=self.ssl_context or ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        connection = _Connection(conn)
        with self._lock:
            # Thread ids are reused once a thread ends: the connections of ended threads are
            # closed here rather than left to the garbage collector.
            alive = {t.ident for t in threading.enumerate()}
            stale: List[_Connection] = [c for ident, c in self._by_thread.items() if ident not in alive or ident == threading.get_ident()]
            self._by_thread = {ident: c for ident, c in self._by_thread.items() if ident in alive}
            self._by_thread[threading.get_ident()] = connection
        for old in stale:
            old.http.close()
        return connection

    def _after_fork(self) -> None:
        # The parent's sockets are the parent's: a request on one would interleave with the
        # parent's. Closing this process's copies of them sends nothing to the server. The
        # lock may have been held by a thread that does not exist here.
        self._lock = threading.Lock()
        inherited, self._by_thread = list(self._by_thread.values()), {}
        for connection in inherited:
            connection.http.close()

    @staticmethod
    def _note_keep_alive(connection: _Connection, header: Optional[str]) -> None:
        if header != connection.keep_alive:
            connection.keep_alive = header
            match = _KEEP_ALIVE_TIMEOUT.search(header or "")
            # Reused up to a second before the server would close it: a request sent as the
            # server closes the connection could not be told apart from one it received.
            idle = float(match.group(1)) if match else _NEVER
            connection.idle_limit = idle - min(1.0, idle / 2)
        if connection.idle_limit != _NEVER:
            connection.reuse_until = time.monotonic() + connection.idle_limit


# Every Connections alive, for the child of a fork (checked there once, not per request).
_ALL: "weakref.WeakSet[Connections]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for connections in list(_ALL):
        connections._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _closed_by_peer(conn: http.client.HTTPConnection) -> bool:
    """An idle keep-alive connection has nothing to read unless the server closed it (or
    broke the protocol): either way it cannot carry another request."""
    sock = conn.sock
    if sock is None:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)


def _closed_before_answer(err: BaseException) -> bool:
    # RemoteDisconnected: closed before a status line; a reset or a broken pipe likewise.
    # A timeout is not one of these: the server may be working on the request.
    return isinstance(err, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError))
