"""hgym sandbox executor.

Runs as PID 1 of a sandbox container and speaks newline-delimited JSON over the
container's attached stdin/stdout (the container has no network), or, when the server offers
one (HGYM_CHANNEL, a unix socket mounted from the server's host: docker/channel.ts), over
that socket, connected first of all and taken by the server at once. Only this process
writes to stdout and holds the socket, and it is not dumpable, so nothing the agent runs can
write a frame: a command's output reaches the server only as a JSON string inside an `out`
or `exit` frame. With the socket, the end of stdin still ends the executor: the server went away.

Requests  {"id": N, "op": "exec"|"halt"|"read"|"write"|"unlink"|"list"|"digest"|"untar"|"stage"|"materialize"|"ping", ...}
Answers   {"id": N, "type": "out"|"exit"|"halted"|"file"|"written"|"listing"|"pong"|"error", ...}
Unsolicited frames: {"type": "ready"} once, {"type": "expired"} before the lifetime ends it.

The agent's commands run in one persistent bash (working directory and exported
variables persist). Completion is reported by the shell on a control pipe that the
command itself does not inherit. A timeout kills the shell's process group and then every
other process in the container, and a fresh shell continues with the last known
working directory and environment.
"""

import ctypes
import errno
import json
import os
import selectors
import shlex
import signal
import socket
import sys
import time

import bases
import files
from output import Output
from shell import Shell, set_scheduling

FILE_OPS = {
    "read": files.read, "write": files.write, "unlink": files.unlink, "list": files.listing, "digest": files.digest,
    "untar": files.untar,
}

PROTOCOL = 1
MAX_FRAME = 64 * 1024 * 1024
CHUNK = 65536
STDIN_CHUNK = 1 << 20
WATCHDOG_S = 0.2
# Between an episode's commands (the model thinking, seconds at a time): often enough to catch a
# background fork bomb, rarely enough that a hundred episodes waiting cost little CPU.
BETWEEN_COMMANDS_WATCHDOG_S = 1.0
# Until the first request but a ping, no command has run: nothing to watch but the lifetime,
# and a warm pool of hundreds of idle executors should cost next to no CPU.
IDLE_WATCHDOG_S = 5.0


def now():
    return time.monotonic()


def set_not_dumpable():
    # Same uid as the agent: without this, /proc/1/fd and /proc/1/mem would be open to it.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except OSError:
        pass


def read_first(paths):
    for p in paths:
        try:
            with open(p) as f:
                return f.read().strip()
        except OSError:
            continue
    return None


def connect_channel():
    """The server's direct channel, if it offers one and it can be reached: a connected socket,
    else None (frames then go over stdin and stdout)."""
    path = os.environ.get("HGYM_CHANNEL")
    if not path:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    return sock


class Executor:
    def __init__(self, held=None, channel=None):
        # Where frames come in and go out: the channel's socket (kept referenced: it closes
        # with its object), else stdin and stdout.
        self.channel = channel
        self.rfd = channel.fileno() if channel else 0
        self.wfd = channel.fileno() if channel else 1
        # The repository bases opened before the executor became the agent's user (bases.py).
        self.held = held if held is not None else {}
        # A base's work tree laid out ahead in bases.STAGE_DIR (stage), or empty.
        self.staged = {}
        self.sel = selectors.DefaultSelector()
        self.inbuf = bytearray()
        self.shell = None
        # Commands sent to the shell for no request (start_in), whose reports are not a job's.
        self.silent = 0
        self.state = {"cwd": os.getcwd(), "exports": ""}
        self.job = None  # the running exec request
        lifetime = float(os.environ.get("HGYM_LIFETIME_S", "0") or 0)
        self.deadline = now() + lifetime if lifetime > 0 else None
        self.pids_max = self._pids_max()
        self.used = False
        self.next_watchdog = now() + IDLE_WATCHDOG_S
        self.statuses = {}

    # ---- framing ----
    def emit(self, frame):
        data = (json.dumps(frame, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8", "replace")
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.wfd, view)
            except BlockingIOError:
                time.sleep(0.0005)
                continue
            view = view[n:]

    # ---- processes ----
    def _pids_max(self):
        raw = read_first(["/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"])
        try:
            return int(raw) if raw and raw != "max" else None
        except ValueError:
            return None

    def pids_current(self):
        raw = read_first(["/sys/fs/cgroup/pids.current", "/sys/fs/cgroup/pids/pids.current"])
        if raw is not None and raw.isdigit():
            return int(raw)
        return sum(1 for d in os.listdir("/proc") if d.isdigit())

    def reap(self):
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if self.shell and pid == self.shell.pid:
                self.shell.exit_status = status

    def sweep(self):
        """Kill every process in the container but this one; return how many rounds it took."""
        for attempt in range(200):
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                self.reap()
                return attempt
            except PermissionError:
                pass
            time.sleep(0.001)
            self.reap()
        return 200

    def start_shell(self):
        restore = "cd -- %s\n%s" % (shlex.quote(self.state["cwd"]), self.state["exports"])
        self.shell = Shell(restore)
        self.sel.register(self.shell.ctl_r, selectors.EVENT_READ, "ctl")
        self.sel.register(self.shell.out_r, selectors.EVENT_READ, "stdout")
        self.sel.register(self.shell.err_r, selectors.EVENT_READ, "stderr")

    def start_in(self, req):
        """`shell: true` on a workspace's lay-out (a reset's): after the answer, the agent's shell
        is sent `cd` there as a command of its own that reports to nobody (`silent` counts them:
        their reports come first, in order), so the reset waits for no round trip and the
        agent's first command, queued behind it, runs there. With a command running, nothing."""
        if req.get("shell") is not True or self.job is not None:
            return
        path = os.path.realpath(req["path"])
        self.state["cwd"] = path
        if self.shell is None:
            return self.start_shell()
        try:
            self.shell.send("cd -- %s 2>/dev/null" % shlex.quote(path))
            self.silent += 1
        except BrokenPipeError:
            self.drop_shell()
            self.start_shell()

    def drop_shell(self):
        self.silent = 0
        if not self.shell:
            return
        for fd in (self.shell.ctl_r, self.shell.out_r, self.shell.err_r):
            try:
                self.sel.unregister(fd)
            except (KeyError, ValueError):
                pass
        try:
            os.killpg(self.shell.pid, signal.SIGKILL)
        except OSError:
            pass
        self.sweep()
        self.shell.close_fds()
        self.shell = None

    # ---- exec ----
    def op_exec(self, req):
        if self.job is not None:
            return self.emit({"id": req.get("id"), "type": "error", "code": "BUSY",
                              "message": "a command is already running in this sandbox"})
        command = req.get("command")
        if not isinstance(command, str) or "\0" in command:
            return self.emit({"id": req.get("id"), "type": "error", "code": "BAD_REQUEST",
                              "message": "command must be a string without NUL characters"})
        timeout = max(1, int(req.get("timeout_ms", 30000))) / 1000.0
        cap = max(256, int(req.get("max_output", 32768)))
        if req.get("fresh"):
            # For the grader: nothing the agent started or defined may take part. Every
            # process goes, and a new shell starts with no functions, aliases or exports.
            self.drop_shell()
            self.state = {"cwd": req.get("cwd") or "/workspace", "exports": ""}
        if self.shell is None:
            self.start_shell()
        self.job = {
            "id": req.get("id"), "started": now(), "deadline": now() + timeout,
            "output": Output(cap), "stream": bool(req.get("stream", True)), "note": None,
        }
        self.next_watchdog = min(self.next_watchdog, now() + WATCHDOG_S)
        try:
            self.shell.send(command)
        except BrokenPipeError:
            self.finish_job(None, "the shell had exited; a new shell was started")

    def op_halt(self, req):
        """For the grader: every process but this one is killed and no shell is left running.
        A command still running ends as killed; the next exec starts a new shell."""
        if self.job is not None:
            self.pump(self.shell.out_r, "stdout")
            self.pump(self.shell.err_r, "stderr")
        self.drop_shell()
        if self.job is not None:
            self.finish_job(None, "the sandbox was halted for grading; the command was killed")
        self.emit({"id": req.get("id"), "type": "halted"})

    def pump(self, fd, stream, limit=64):
        """Read what a pipe holds now; returns False at end of file."""
        for _ in range(limit):
            try:
                data = os.read(fd, CHUNK)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            if self.job is None:
                continue  # output of a background process between commands is dropped
            streamed = self.job["output"].add(stream, data)
            if streamed and self.job["stream"]:
                self.emit({"id": self.job["id"], "type": "out", "stream": stream, "data": streamed})
        return True

    def on_ctl(self):
        sh = self.shell
        try:
            data = os.read(sh.ctl_r, CHUNK)
        except BlockingIOError:
            return
        if not data:
            self.on_shell_exit()
            return
        sh.ctl_buf += data
        # Each report is three NUL-terminated fields; a silent command's and the job's may come together.
        while True:
            parts = sh.ctl_buf.split(b"\0", 3)
            if len(parts) < 4:
                return
            rc, cwd, exports, sh.ctl_buf = parts
            self.state = {"cwd": cwd.decode("utf-8", "replace"), "exports": exports.decode("utf-8", "replace")}
            if self.silent > 0:
                self.silent -= 1
                continue
            if self.job is None:
                continue
            self.pump(sh.out_r, "stdout")
            self.pump(sh.err_r, "stderr")
            try:
                code = int(rc)
            except ValueError:
                code = None
            self.finish_job(code, None)

    def on_shell_exit(self):
        sh = self.shell
        deadline = now() + 1.0
        while sh.exit_status is None and now() < deadline:
            self.reap()
            if sh.exit_status is None:
                time.sleep(0.0005)
        if self.job is not None:
            self.pump(sh.out_r, "stdout")
            self.pump(sh.err_r, "stderr")
        status = sh.exit_status
        code = None
        if status is not None:
            code = os.waitstatus_to_exitcode(status)
            code = 128 - code if code < 0 else code
        self.drop_shell()
        if self.job is not None:
            self.finish_job(code, "the shell exited; a new shell was started with the same working "
                                  "directory and exported variables")
        self.start_shell()

    def finish_job(self, code, note, timed_out=False):
        job = self.job
        self.job = None
        out = job["output"]
        for stream in ("stdout", "stderr"):
            tail = out.add(stream, b"", final=True)
            if tail and job["stream"]:
                self.emit({"id": job["id"], "type": "out", "stream": stream, "data": tail})
        self.emit({
            "id": job["id"], "type": "exit", "exit_code": code, "timed_out": timed_out,
            "output": out.text(), "output_chars": out.total, "cut_chars": out.dropped,
            "note": note, "cwd": self.state["cwd"],
            "duration_ms": round((now() - job["started"]) * 1000, 3),
        })

    def on_timeout(self):
        sh = self.shell
        self.pump(sh.out_r, "stdout")
        self.pump(sh.err_r, "stderr")
        self.drop_shell()
        secs = round(self.job["deadline"] - self.job["started"], 3)
        self.finish_job(None, "the command did not finish within %s s; it and every process it "
                              "started were killed, and a new shell continues in the same working "
                              "directory with the same exported variables" % secs, timed_out=True)
        self.start_shell()

    def watchdog(self):
        if self.pids_max is None:
            return
        if self.pids_current() < self.pids_max * 0.9:
            return
        self.drop_shell()
        note = ("the sandbox ran out of process slots (limit %d); every process the agent started was "
                "killed and a new shell was started" % self.pids_max)
        if self.job is not None:
            self.finish_job(None, note)
        else:
            self.emit({"type": "notice", "message": note})
        self.start_shell()

    # ---- dispatch ----
    def handle(self, line):
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("a request is a JSON object")
        except ValueError as e:
            return self.emit({"id": None, "type": "error", "code": "BAD_REQUEST", "message": str(e)})
        op = req.get("op")
        if op not in ("ping", "materialize", "stage") and self.held:
            # The workspace came otherwise: no base stays open while the agent works, nor its stage.
            bases.release(self.held)
            bases.drop_stage(self.staged)
        if op not in ("ping", "stage") and not self.used:
            self.used = True
            self.next_watchdog = min(self.next_watchdog, now() + WATCHDOG_S)
        try:
            if op == "exec":
                self.op_exec(req)
            elif op == "halt":
                self.op_halt(req)
            elif op == "stage":
                frame = bases.stage(req, self.held, self.staged)
                frame["id"] = req["id"]
                self.emit(frame)
            elif op == "materialize":
                frame = bases.materialize(req, self.held, self.staged)
                frame["id"] = req["id"]
                self.emit(frame)
                self.start_in(req)
            elif op in FILE_OPS:
                frame = FILE_OPS[op](req)
                frame["id"] = req["id"]
                self.emit(frame)
                if op == "untar":
                    self.start_in(req)
            elif op == "ping":
                self.emit({"id": req.get("id"), "type": "pong", "busy": self.job is not None})
            else:
                self.emit({"id": req.get("id"), "type": "error", "code": "BAD_REQUEST",
                           "message": "unknown op %r" % (op,)})
        except bases.NoBase as e:
            self.emit({"id": req.get("id"), "type": "error", "code": "NO_BASE", "message": "no base %s here" % e})
        except OSError as e:
            self.emit({"id": req.get("id"), "type": "error", "code": errno.errorcode.get(e.errno, "EIO"),
                       "message": e.strerror or str(e)})
        except (KeyError, TypeError, ValueError) as e:
            self.emit({"id": req.get("id"), "type": "error", "code": "BAD_REQUEST",
                       "message": "malformed %s request: %s" % (op, e)})
        except Exception as e:  # noqa: BLE001 - one bad request must never end the executor
            self.emit({"id": req.get("id"), "type": "error", "code": "FAILED",
                       "message": "%s failed: %s: %s" % (op, type(e).__name__, e)})

    def on_stdin(self):
        # Large reads into a growing bytearray, and a newline looked for in the new bytes only:
        # a workspace arrives as one frame of megabytes, which bytes concatenation and a search
        # from the start made quadratic (seconds for a large repository, under load far more).
        data = os.read(self.rfd, STDIN_CHUNK)
        if not data:
            return False
        start = len(self.inbuf)
        self.inbuf += data
        nl = self.inbuf.find(b"\n", start)
        while nl >= 0:
            line = bytes(self.inbuf[:nl])
            del self.inbuf[:nl + 1]
            if line.strip():
                self.handle(line)
            nl = self.inbuf.find(b"\n")
        if len(self.inbuf) > MAX_FRAME:
            self.inbuf = bytearray()
            self.emit({"id": None, "type": "error", "code": "BAD_REQUEST", "message": "frame too large"})
        return True

    def on_attach(self):
        """Reads and drops what stdin holds beside a channel; False at its end."""
        try:
            return os.read(0, CHUNK) != b""
        except BlockingIOError:
            return True

    def run(self):
        os.set_blocking(self.rfd, False)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(self.rfd, selectors.EVENT_READ, "stdin")
        if self.channel:
            # Nothing comes on stdin then but its end, when the server's attach goes away.
            os.set_blocking(0, False)
            self.sel.register(0, selectors.EVENT_READ, "attach")
        self.sel.register(wake_r, selectors.EVENT_READ, "wake")
        self.start_shell()
        self.emit({"type": "ready", "protocol": PROTOCOL, "pid": os.getpid(), "pids_max": self.pids_max,
                   "uid": os.getuid(), "bases": sorted(self.held)})
        while True:
            t = now()
            waits = [self.next_watchdog - t]
            if self.job:
                waits.append(self.job["deadline"] - t)
            if self.deadline:
                waits.append(self.deadline - t)
            events = self.sel.select(max(0.0, min(waits)))
            for key, _ in events:
                kind = key.data
                if kind == "stdin":
                    if not self.on_stdin():
                        return "stdin closed" if self.channel is None else "channel closed"
                elif kind == "attach":
                    if not self.on_attach():
                        return "stdin closed"
                elif kind == "wake":
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
                    self.reap()
                elif self.shell is None:
                    continue
                elif kind == "ctl":
                    self.on_ctl()
                elif not self.pump(key.fd, kind):
                    self.sel.unregister(key.fd)
            t = now()
            if self.job and t >= self.job["deadline"] and self.shell:
                self.on_timeout()
            if self.deadline and t >= self.deadline:
                self.emit({"type": "expired"})
                return "lifetime reached"
            if t >= self.next_watchdog:
                self.next_watchdog = t + (WATCHDOG_S if self.job else BETWEEN_COMMANDS_WATCHDOG_S if self.used else IDLE_WATCHDOG_S)
                self.reap()
                self.watchdog()


def main():
    # First of all: the server's channel, before any other process exists in the container; then,
    # in a container started as root, the bases are opened and the executor becomes the agent's user.
    channel = connect_channel()
    held = bases.hold()
    # SCHED_BATCH: woken by a request, the executor does not preempt the process running on its
    # CPU (often the server's event loop, which serves every episode) but runs at the next tick
    # or once that one waits; its share of the CPU is what it was. The shell goes back (shell.py).
    set_scheduling(os.SCHED_BATCH)
    set_not_dumpable()
    # As PID 1 only signals with a handler reach us from inside the container; make sure
    # SIGINT (which Python handles) cannot interrupt the executor.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, signal.SIG_DFL)
    ex = Executor(held, channel)
    reason = ex.run()
    ex.drop_shell()
    sys.stderr.write("hgym executor: exiting: %s\n" % reason)


if __name__ == "__main__":
    main()
