"""File operations of the executor, for the editor tool. Each takes a request and returns
the answer frame; filesystem refusals raise OSError, which the caller turns into an
errno-coded error frame."""

import base64
import gzip
import errno
import hashlib
import io
import os
import stat
import tarfile


def read(req):
    """Opened without blocking (a FIFO or device answers 'other' instead of stalling), and,
    with no_follow, without following a symbolic link."""
    path = req.get("path")
    max_bytes = int(req.get("max_bytes", 4 * 1024 * 1024))
    flags = os.O_RDONLY | os.O_NONBLOCK | (os.O_NOFOLLOW if req.get("no_follow") else 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return {"type": "file", "kind": "missing"}
    except IsADirectoryError:
        return {"type": "file", "kind": "dir"}
    except OSError as error:
        if error.errno == errno.ELOOP:
            return {"type": "file", "kind": "other"}
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return {"type": "file", "kind": "dir" if stat.S_ISDIR(st.st_mode) else "other"}
    with os.fdopen(fd, "rb") as f:
        if req.get("start_line") is not None:
            return read_lines(req, f, st.st_size, max_bytes)
        if st.st_size > max_bytes:
            return {"type": "file", "kind": "file", "size": st.st_size, "too_large": True}
        data = f.read(max_bytes + 1)
    frame = {"type": "file", "kind": "file", "size": len(data)}
    if b"\0" in data[:8192]:
        frame["binary"] = True
    else:
        try:
            frame["text"] = data.decode("utf-8")
        except UnicodeDecodeError:
            frame["binary"] = True
    return frame


def read_lines(req, f, size, max_bytes):
    """Lines start..end (1-based, inclusive; end -1 = last) of an open file of any size."""
    start = int(req["start_line"])
    end = int(req.get("end_line", -1))
    kept, kept_bytes, total, binary = [], 0, 0, False
    if b"\0" in f.read(8192):
        binary = True
    f.seek(0)
    for total, line in enumerate(f, 1):
        if total >= start and (end < 0 or total <= end) and kept_bytes <= max_bytes:
            kept.append(line)
            kept_bytes += len(line)
    frame = {"type": "file", "kind": "file", "size": size, "total_lines": total}
    if binary:
        frame["binary"] = True
    elif kept_bytes > max_bytes:
        frame["too_large"] = True
    else:
        try:
            frame["text"] = b"".join(kept).decode("utf-8")
        except UnicodeDecodeError:
            frame["binary"] = True
    return frame


def unlink(req):
    os.unlink(req["path"])
    return {"type": "written", "bytes": 0}


def write(req):
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
    return {"type": "written", "bytes": len(data)}


def listing(req):
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
        return {"type": "error", "code": "ENOTDIR", "message": "%s is not a directory" % root}
    walk(root, "", 1)
    return {"type": "listing", "entries": entries, "truncated": truncated}


def digest(req):
    """Every entry under a directory (but .git), with a sha256 for regular files. Walks
    without following symlinks and never opens anything but regular files, so a planted
    FIFO or a link to /dev/zero cannot stall it."""
    root = req["path"]
    limit = int(req.get("limit", 200000))
    max_bytes = int(req.get("max_bytes", 512 * 1024 * 1024))
    entries, hashed, truncated = [], 0, False
    for d, dirs, names in os.walk(root):
        dirs[:] = sorted(x for x in dirs if not (d == root and x == ".git"))
        rel_dir = os.path.relpath(d, root)
        for name in sorted(names) + [x for x in dirs if os.path.islink(os.path.join(d, x))]:
            if len(entries) >= limit:
                truncated = True
                break
            full = os.path.join(d, name)
            rel = name if rel_dir == "." else rel_dir + "/" + name
            st = os.lstat(full)
            if stat.S_ISLNK(st.st_mode):
                entries.append({"path": rel, "kind": "symlink", "target": os.readlink(full)})
            elif stat.S_ISREG(st.st_mode) and hashed + st.st_size <= max_bytes:
                h = hashlib.sha256()
                try:
                    fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                except OSError:  # made unreadable by the agent: changed, not an error
                    entries.append({"path": rel, "kind": "other", "size": st.st_size})
                    continue
                try:
                    while True:
                        chunk = os.read(fd, 1 << 20)
                        if not chunk:
                            break
                        h.update(chunk)
                finally:
                    os.close(fd)
                hashed += st.st_size
                entries.append({"path": rel, "kind": "file", "size": st.st_size, "sha256": h.hexdigest()})
            else:
                entries.append({"path": rel, "kind": "other", "size": st.st_size})
    return {"type": "digest", "entries": entries, "truncated": truncated}


def untar(req):
    """Unpacks a tar archive (base64) into a directory. Members must stay inside it: absolute
    paths, `..`, links pointing out, devices and FIFOs are refused before anything is written."""
    dest = os.path.realpath(req["path"])
    data = base64.b64decode(req["data"])
    # Decompressed at once (every member of a multi-member gzip): tarfile reading a gzip stream
    # decompresses it twice, once to list the members and again to extract them.
    plain = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:") as tar:
        members = tar.getmembers()
        for m in members:
            target = os.path.realpath(os.path.join(dest, m.name))
            if m.name.startswith("/") or not (target == dest or target.startswith(dest + os.sep)):
                raise ValueError("archive member %r would land outside %s" % (m.name, dest))
            if not (m.isfile() or m.isdir() or m.issym()):
                raise ValueError("archive member %r is not a file, directory or symlink" % m.name)
            if m.issym():
                link = os.path.realpath(os.path.join(os.path.dirname(target), m.linkname))
                if not (link == dest or link.startswith(dest + os.sep)):
                    raise ValueError("symlink %r points outside %s" % (m.name, dest))
        os.makedirs(dest, exist_ok=True)
        for m in members:
            m.uid, m.gid, m.uname, m.gname = os.getuid(), os.getgid(), "", ""
            m.mode = (m.mode & 0o755) | (0o700 if m.isdir() else 0o600)
        tar.extractall(dest, members=members, numeric_owner=True)
    return {"type": "written", "bytes": len(data)}
