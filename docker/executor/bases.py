"""Repository bases: the snapshots a server lays out on its host (env/corpus/bases.ts), mounted
read-only at BASES_DIR, each a plain tar of its work tree (`<name>.tar`) and the git objects of
its files, deflated and concatenated as a pack holds them (`<name>.objects`). Nobody may read
them: mode 0, in a directory of mode 0700 that is not the agent's.

The container starts as root with four capabilities (DAC_READ_SEARCH, SETPCAP, SETUID, SETGID)
and no others. `hold` opens every base, empties the capability bounding set, then becomes the
agent's user for good: every capability set is empty, and no process of the sandbox can open a
base again. The executor keeps
the open descriptors (close-on-exec, and /proc/1/fd is closed to the agent: the executor is not
dumpable) until it lays out a workspace from one, then closes them all: a sandbox serves one
episode.

`materialize` lays out a workspace: the base's work tree but the files the instance changes,
then a small archive from the server (those files and `.git`'s small files), then `.git`'s pack,
assembled from pieces of the base's objects and pieces the server sent, and checked against its
SHA-1 trailer. The original text of a changed file is never written: tar skips it.

`stage` does most of that before the sandbox is leased, while the machine is idle: the base's work
tree but `leave_out` (every file any instance of that base changes: the server's list) into
STAGE_DIR. A `materialize` of that base whose changed files are all among `leave_out` then only
renames the stage into place and unpacks the files of `leave_out` it does not change; any other
request drops the stage first. The original text of a changed file is still never written.
"""

import base64
import ctypes
import hashlib
import os
import shutil
import subprocess

import files

BASES_DIR = "/opt/hgym/bases"
STAGE_DIR = "/workspace/.hgym-stage"
AGENT_UID = 1000
AGENT_GID = 1000
TAR_TIMEOUT_S = 300
PR_CAPBSET_DROP = 24


class NoBase(Exception):
    """The sandbox holds no base of that name (the server then sends the whole workspace)."""


def hold():
    """Opens the bases while root, then becomes the agent's user; returns {name: (tar fd, objects fd)}.
    A process that is not root holds none and stays who it is."""
    held = {}
    if os.getuid() != 0:
        return held
    try:
        names = sorted(os.listdir(BASES_DIR))
    except OSError:
        names = []
    for name in names:
        if not name.endswith(".tar"):
            continue
        stem = name[: -len(".tar")]
        try:
            tar_fd = os.open(os.path.join(BASES_DIR, name), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            objects_fd = os.open(os.path.join(BASES_DIR, stem + ".objects"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            os.close(tar_fd)
            continue
        held[stem] = (tar_fd, objects_fd)
    # Every capability out of the bounding set first (SETPCAP allows it), so that no process of
    # the sandbox can ever gain one; then the user: that clears the permitted and effective sets.
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    os.setgroups([])
    os.setresgid(AGENT_GID, AGENT_GID, AGENT_GID)
    os.setresuid(AGENT_UID, AGENT_UID, AGENT_UID)
    left = capabilities()
    if os.getresuid() != (AGENT_UID,) * 3 or os.getresgid() != (AGENT_GID,) * 3 or any(left.values()):
        raise SystemExit("hgym executor: could not become the agent's user without capabilities: %r" % left)
    return held


def capabilities():
    """The process's capability sets, from /proc: {"CapEff": n, "CapPrm": n, ...}."""
    found = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Cap"):
                name, value = line.split(":")
                found[name] = int(value.strip(), 16)
    return found


def release(held):
    for tar_fd, objects_fd in held.values():
        os.close(tar_fd)
        os.close(objects_fd)
    held.clear()


def inside(dest, relative):
    path = os.path.realpath(os.path.join(dest, relative))
    if not path.startswith(dest + os.sep):
        raise ValueError("%r is outside %s" % (relative, dest))
    return path


def placeholders(dest, paths):
    """Every file of the work tree created empty, in `paths`' order, before anything is unpacked
    (which then writes into them, in place): the files' inode numbers follow their paths, not the
    order their contents came in, which would single out the changed files (unpacked last)."""
    made = set()
    # On one CPU while it creates them: tmpfs hands out inode numbers in batches per CPU, so a
    # process that moved between CPUs would number them out of order.
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cpus)})
    try:
        for rel in paths:
            if rel.startswith("/") or ".." in rel.split("/"):
                raise ValueError("%r is outside the work tree" % rel)
            path = os.path.join(dest, rel)
            parent = os.path.dirname(path)
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    finally:
        os.sched_setaffinity(0, cpus)


def settle(dest, paths):
    """Each file's access time set to its modification time, in `paths`' order: that also sets
    every status-change time anew, in that order, so no time tells when a file's content came."""
    for rel in paths:
        path = os.path.join(dest, rel)
        st = os.lstat(path)
        os.utime(path, ns=(st.st_mtime_ns, st.st_mtime_ns), follow_symlinks=False)


def untar_base(tar_fd, dest, exclude=(), members=None):
    """The base's work tree into `dest`: every member but `exclude`, or only `members`; a file
    already there (a placeholder) is written in place."""
    os.lseek(tar_fd, 0, os.SEEK_SET)
    # Paths are literal and whole (no wildcards, anchored at the archive's root).
    args = ["tar", "-x", "-f", "-", "-C", dest, "--overwrite", "--no-same-owner", "--no-same-permissions", "--no-wildcards", "--anchored"]
    args += ["--exclude=./" + path for path in exclude]
    if members is not None:
        args += ["--"] + ["./" + path for path in members]
    done = subprocess.run(args, stdin=tar_fd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=TAR_TIMEOUT_S)
    if done.returncode != 0:
        raise ValueError("unpacking the base failed: %s" % done.stderr.decode("utf-8", "replace")[-500:])


def stage(req, held, staged):
    """Unpacks base `req["base"]` but `req["leave_out"]` into STAGE_DIR; records it in `staged`."""
    name = req["base"]
    if name not in held:
        raise NoBase(name)
    drop_stage(staged)
    # Files of the base (the server's list): each one left out is unpacked at materialize if kept.
    leave_out = set(str(p) for p in req["leave_out"])
    paths = list(req.get("files", []))
    os.makedirs(STAGE_DIR)
    try:
        # The files left out stay empty placeholders, written at materialize.
        placeholders(STAGE_DIR, paths)
        untar_base(held[name][0], STAGE_DIR, exclude=sorted(leave_out))
    except BaseException:
        shutil.rmtree(STAGE_DIR, ignore_errors=True)
        raise
    staged.update(base=name, leave_out=leave_out, files=paths)
    return {"type": "staged"}


def drop_stage(staged):
    if staged:
        shutil.rmtree(STAGE_DIR, ignore_errors=True)
        staged.clear()


def moved(dest):
    """Renames the stage to `dest` (a new path on its file system); whether it could."""
    if os.path.lexists(dest):
        return False
    try:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.rename(STAGE_DIR, dest)
        return True
    except OSError:
        return False


def materialize(req, held, staged=None):
    name = req["base"]
    if name not in held:
        raise NoBase(name)
    tar_fd, objects_fd = held[name]
    staged = staged if staged is not None else {}
    from_stage = False
    try:
        dest = os.path.realpath(req["path"])
        exclude = set(req.get("exclude", []))
        paths = req.get("files", [])
        if staged.get("base") == name and exclude <= staged["leave_out"] and staged["files"] == paths and moved(dest):
            # Staged: the rest of the work tree is what the stage left out and this instance keeps.
            rest = sorted(staged["leave_out"] - exclude)
            staged.clear()
            from_stage = True
            try:
                if rest:
                    untar_base(tar_fd, dest, members=rest)
            except ValueError:
                # A member the base does not hold (tar stops at it): the whole work tree instead.
                shutil.rmtree(dest)
                from_stage = False
        if not from_stage:
            drop_stage(staged)
            os.makedirs(dest, exist_ok=True)
            placeholders(dest, paths)
            untar_base(tar_fd, dest, exclude=sorted(exclude))
        if req.get("archive"):
            files.untar({"path": dest, "data": req["archive"]})
        pack = req.get("pack")
        if pack:
            write_pack(inside(dest, pack["path"]), pack["pieces"], bytes.fromhex(pack["trailer"]), objects_fd)
        settle(dest, paths)
    finally:
        # One workspace per sandbox: nothing of any base stays open once it is laid out.
        release(held)
        drop_stage(staged)
    return {"type": "written", "bytes": 0, "staged": from_stage}


def write_pack(path, pieces, trailer, objects_fd):
    digest = hashlib.sha1()
    with open(path, "wb") as out:
        for piece in pieces:
            if isinstance(piece, list):
                offset, length = int(piece[0]), int(piece[1])
                data = os.pread(objects_fd, length, offset)
                if len(data) != length:
                    raise ValueError("the base's objects end before %d" % (offset + length))
            else:
                data = base64.b64decode(piece)
            digest.update(data)
            out.write(data)
        if digest.digest() != trailer:
            raise ValueError("the assembled pack does not match its checksum")
        out.write(trailer)
    # As files.untar leaves every file it unpacks: the agent's to change.
    os.chmod(path, 0o644)
