"""The agent's persistent bash, driven through a command pipe (fd 4) and reporting each
command's completion on a control pipe (fd 3) that the command itself does not inherit."""

import fcntl
import os
import signal

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


def lower_priority_for_oom():
    # Agent processes go first when the container runs out of memory.
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def set_scheduling(policy):
    """This process's scheduling policy (os.SCHED_*), where the system allows it."""
    try:
        os.sched_setscheduler(0, policy, os.sched_param(0))
    except (AttributeError, OSError):
        pass


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
                # The executor runs under SCHED_BATCH (__main__.py); the agent's shell and
                # commands do not: a command of many processes (git, a pipeline) wakes many
                # times, and each wake would wait for a tick.
                set_scheduling(os.SCHED_OTHER)
                # Copied above the targets first: a pipe end that is itself 0 to 4 (the lowest
                # numbers are free once the executor closed its bases) is not overwritten by
                # another before it is moved.
                sources = [os.open("/dev/null", os.O_RDONLY), out_w, err_w, ctl_w, cmd_r]
                high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 5) for fd in sources]
                for target, fd in enumerate(high):
                    os.dup2(fd, target)
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
