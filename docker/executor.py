"""hgym sandbox executor.

Runs as PID 1 of a sandbox container and speaks newline-delimited JSON over the
container's attached stdin/stdout (the container has no network). Only this process
writes to stdout, and it is not dumpable, so nothing the agent runs can write a frame:
a command's output reaches the server only as a JSON string inside an `out` or `exit`
frame.

Requests  {"id": N, "op": "exec"|"read"|"write"|"unlink"|"list"|"ping", ...}
Answers   {"id": N, "type": "out"|"exit"|"file"|"written"|"listing"|"pong"|"error", ...}
Unsolicited frames: {"type": "ready"} once, {"type": "expired"} before the lifetime ends it.

The agent's commands run in one persistent bash (working directory and exported
variables persist). Completion is reported by the shell on a control pipe that the
command itself does not inherit. A timeout kills the shell's process group and then every
other process in the container, and a fresh shell continues with the last known
working directory and environment.
"""

import codecs
import ctypes
import errno
import json
import os
import selectors
import shlex
import signal
import stat
import sys
import time

PROTOCOL = 1
MAX_FRAME = 64 * 1024 * 1024
CHUNK = 65536
WATCHDOG_S = 0.2

DRIVER = r"""
__hgym_run() { eval "$1"; }
eval "$__HGYM_RESTORE" >/dev/null 2>&1
unset __HGYM_RESTORE
while IFS= read -r -d '' -u 4 __hgym_cmd; do
  __hgym_run "$__hgym_cmd" </dev/null 3>&- 4<&-
  __hgym_rc=$?
  { printf '%s\0%s\0' "$__hgym_rc" "$PWD"; export -p; printf '\0'; } >&3
done
"""

BASE_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": os.environ.get("HOME", "/home/agent"),
    "USER": "agent",
    "LOGNAME": "agent",
    "SHELL": "/bin/bash",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TERM": "dumb",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def now():
    return time.monotonic()


def set_not_dumpable():
    # Same uid as the agent: without this, /proc/1/fd and /proc/1/mem would be open to it.
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except OSError:
        pass


def lower_priority_for_oom():
    # Agent processes go first when the container runs out of memory.
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
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


class Output:
    """Capped, merged stdout/stderr of one command: head kept whole, tail kept rolling."""

    def __init__(self, cap):
        self.head_cap = cap // 2
        self.tail_cap = cap - self.head_cap
        self.head = []
        self.head_len = 0
        self.tail = ""
        self.total = 0
        self.dropped = 0
        self.decoders = {
            "stdout": codecs.getincrementaldecoder("utf-8")("replace"),
            "stderr": codecs.getincrementaldecoder("utf-8")("replace"),
        }

    def add(self, stream, data, final=False):
        """Returns the part of the text that belongs to the head (to stream), or ''."""
        text = self.decoders[stream].decode(data, final)
        if not text:
            return ""
        self.total += len(text)
        room = self.head_cap - self.head_len
        streamed = text[:room] if room > 0 else ""
        if streamed:
            self.head.append(streamed)
            self.head_len += len(streamed)
        rest = text[len(streamed):]
        if rest:
            combined = self.tail + rest
            if len(combined) > self.tail_cap:
                self.dropped += len(combined) - self.tail_cap
                combined = combined[-self.tail_cap:]
            self.tail = combined
        return streamed

    def text(self):
        head = "".join(self.head)
        if self.dropped:
            note = "\n[... %d characters of output cut here; the first %d and the last %d are kept ...]\n" % (
                self.dropped, self.head_len, len(self.tail))
            return head + note + self.tail
        return head + self.tail


class Shell:
    def __init__(self, restore):
        cmd_r, self.cmd_w = os.pipe()
        self.ctl_r, ctl_w = os.pipe()
        self.out_r, out_w = os.pipe()
        self.err_r, err_w = os.pipe()
        env = dict(BASE_ENV)
        env["__HGYM_RESTORE"] = restore
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                lower_priority_for_oom()
                devnull = os.open("/dev/null", os.O_RDONLY)
                os.dup2(devnull, 0)
                os.dup2(out_w, 1)
                os.dup2(err_w, 2)
                os.dup2(ctl_w, 3)
                os.dup2(cmd_r, 4)
                os.closerange(5, 65536)
                for s in range(1, signal.NSIG):
                    try:
                        signal.signal(s, signal.SIG_DFL)
                    except (OSError, ValueError):
                        pass
                os.execve("/bin/bash", ["bash", "--noprofile", "--norc", "-c", DRIVER, "bash"], env)
            finally:
                os._exit(127)
        for fd in (cmd_r, ctl_w, out_w, err_w):
            os.close(fd)
        for fd in (self.ctl_r, self.out_r, self.err_r):
            os.set_blocking(fd, False)
        self.pid = pid
        self.ctl_buf = b""
        self.exit_status = None

    def send(self, command):
        data = command.encode("utf-8") + b"\0"
        os.write(self.cmd_w, data) if len(data) < 65536 else self._write_all(data)

    def _write_all(self, data):
        view = memoryview(data)
        while view:
            n = os.write(self.cmd_w, view)
            view = view[n:]

    def close_fds(self):
        for fd in (self.cmd_w, self.ctl_r, self.out_r, self.err_r):
            try:
                os.close(fd)
            except OSError:
                pass


class Executor:
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.inbuf = b""
        self.shell = None
        self.state = {"cwd": os.getcwd(), "exports": ""}
        self.job = None  # the running exec request
        lifetime = float(os.environ.get("HGYM_LIFETIME_S", "0") or 0)
        self.deadline = now() + lifetime if lifetime > 0 else None
        self.pids_max = self._pids_max()
        self.next_watchdog = now() + WATCHDOG_S
        self.statuses = {}

    # ---- framing ----
    def emit(self, frame):
        data = (json.dumps(frame, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8", "replace")
        view = memoryview(data)
        while view:
            try:
                n = os.write(1, view)
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

    def drop_shell(self):
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
        if self.shell is None:
            self.start_shell()
        self.job = {
            "id": req.get("id"), "started": now(), "deadline": now() + timeout,
            "output": Output(cap), "stream": bool(req.get("stream", True)), "note": None,
        }
        try:
            self.shell.send(command)
        except BrokenPipeError:
            self.finish_job(None, "the shell had exited; a new shell was started")

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
        parts = sh.ctl_buf.split(b"\0")
        if len(parts) < 4:
            return
        rc, cwd, exports = parts[0], parts[1], parts[2]
        sh.ctl_buf = b"\0".join(parts[3:])
        self.state = {"cwd": cwd.decode("utf-8", "replace"), "exports": exports.decode("utf-8", "replace")}
        if self.job is None:
            return
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

    # ---- files ----
    def op_read(self, req):
        path = req.get("path")
        max_bytes = int(req.get("max_bytes", 4 * 1024 * 1024))
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return self.emit({"id": req["id"], "type": "file", "kind": "missing"})
        if stat.S_ISDIR(st.st_mode):
            return self.emit({"id": req["id"], "type": "file", "kind": "dir"})
        if not stat.S_ISREG(st.st_mode):
            return self.emit({"id": req["id"], "type": "file", "kind": "other"})
        if req.get("start_line") is not None:
            return self.read_lines(req, path, st.st_size, max_bytes)
        if st.st_size > max_bytes:
            return self.emit({"id": req["id"], "type": "file", "kind": "file", "size": st.st_size,
                              "too_large": True})
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
        frame = {"id": req["id"], "type": "file", "kind": "file", "size": len(data)}
        if b"\0" in data[:8192]:
            frame["binary"] = True
        else:
            try:
                frame["text"] = data.decode("utf-8")
            except UnicodeDecodeError:
                frame["binary"] = True
        self.emit(frame)

    def read_lines(self, req, path, size, max_bytes):
        """Lines start..end (1-based, inclusive; end -1 = last) of a file of any size."""
        start = int(req["start_line"])
        end = int(req.get("end_line", -1))
        kept, kept_bytes, total, binary = [], 0, 0, False
        with open(path, "rb") as f:
            if b"\0" in f.read(8192):
                binary = True
            f.seek(0)
            for total, line in enumerate(f, 1):
                if total >= start and (end < 0 or total <= end) and kept_bytes <= max_bytes:
                    kept.append(line)
                    kept_bytes += len(line)
        frame = {"id": req["id"], "type": "file", "kind": "file", "size": size, "total_lines": total}
        if binary:
            frame["binary"] = True
        elif kept_bytes > max_bytes:
            frame["too_large"] = True
        else:
            try:
                frame["text"] = b"".join(kept).decode("utf-8")
            except UnicodeDecodeError:
                frame["binary"] = True
        self.emit(frame)

    def op_unlink(self, req):
        os.unlink(req["path"])
        self.emit({"id": req["id"], "type": "written", "bytes": 0})

    def op_write(self, req):
        path = req["path"]
        data = req["text"].encode("utf-8")
        if req.get("parents"):
            os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (os.O_EXCL if req.get("exclusive") else 0)
        fd = os.open(path, flags, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        self.emit({"id": req["id"], "type": "written", "bytes": len(data)})

    def op_list(self, req):
        root = req["path"]
        depth = max(1, int(req.get("depth", 2)))
        limit = int(req.get("limit", 2000))
        entries = []
        truncated = False

        def walk(d, rel, level):
            nonlocal truncated
            try:
                names = sorted(os.listdir(d))
            except OSError:
                return
            for name in names:
                if name.startswith("."):
                    continue
                if len(entries) >= limit:
                    truncated = True
                    return
                full = os.path.join(d, name)
                is_dir = os.path.isdir(full) and not os.path.islink(full)
                entries.append({"path": rel + name, "dir": is_dir})
                if is_dir and level < depth:
                    walk(full, rel + name + "/", level + 1)

        if not os.path.isdir(root):
            return self.emit({"id": req["id"], "type": "error", "code": "ENOTDIR",
                              "message": "%s is not a directory" % root})
        walk(root, "", 1)
        self.emit({"id": req["id"], "type": "listing", "entries": entries, "truncated": truncated})

    # ---- dispatch ----
    def handle(self, line):
        try:
            req = json.loads(line)
            if not isinstance(req, dict):
                raise ValueError("a request is a JSON object")
        except ValueError as e:
            return self.emit({"id": None, "type": "error", "code": "BAD_REQUEST", "message": str(e)})
        op = req.get("op")
        try:
            if op == "exec":
                self.op_exec(req)
            elif op == "read":
                self.op_read(req)
            elif op == "write":
                self.op_write(req)
            elif op == "list":
                self.op_list(req)
            elif op == "unlink":
                self.op_unlink(req)
            elif op == "ping":
                self.emit({"id": req.get("id"), "type": "pong", "busy": self.job is not None})
            else:
                self.emit({"id": req.get("id"), "type": "error", "code": "BAD_REQUEST",
                           "message": "unknown op %r" % (op,)})
        except OSError as e:
            self.emit({"id": req.get("id"), "type": "error", "code": errno.errorcode.get(e.errno, "EIO"),
                       "message": e.strerror or str(e)})
        except (KeyError, TypeError, ValueError) as e:
            self.emit({"id": req.get("id"), "type": "error", "code": "BAD_REQUEST",
                       "message": "malformed %s request: %s" % (op, e)})

    def on_stdin(self):
        data = os.read(0, CHUNK)
        if not data:
            return False
        self.inbuf += data
        while True:
            nl = self.inbuf.find(b"\n")
            if nl < 0:
                if len(self.inbuf) > MAX_FRAME:
                    self.inbuf = b""
                    self.emit({"id": None, "type": "error", "code": "BAD_REQUEST", "message": "frame too large"})
                return True
            line, self.inbuf = self.inbuf[:nl], self.inbuf[nl + 1:]
            if line.strip():
                self.handle(line)

    def run(self):
        os.set_blocking(0, False)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(0, selectors.EVENT_READ, "stdin")
        self.sel.register(wake_r, selectors.EVENT_READ, "wake")
        self.start_shell()
        self.emit({"type": "ready", "protocol": PROTOCOL, "pid": os.getpid(), "pids_max": self.pids_max})
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
                self.next_watchdog = t + WATCHDOG_S
                self.reap()
                self.watchdog()


def main():
    set_not_dumpable()
    # As PID 1 only signals with a handler reach us from inside the container; make sure
    # SIGINT (which Python handles) cannot interrupt the executor.
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(s, signal.SIG_DFL)
    ex = Executor()
    reason = ex.run()
    ex.drop_shell()
    sys.stderr.write("hgym executor: exiting: %s\n" % reason)


if __name__ == "__main__":
    main()
