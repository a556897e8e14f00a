"""What the runners of hgym_pytest.py and hgym_graded.py share: where the repository is,
how an exception is written up, how pytest is started, how the report is written."""

import importlib.util
import json
import os
import re
import sys
import tempfile

import pytest

ROOT = os.getcwd()
PREFIX = ROOT.rstrip("/") + "/"
MESSAGE_CHARS = 2000
FRAMES = 30


def relative(path):
    path = str(path)
    return path[len(PREFIX):] if path.startswith(PREFIX) else None


def describe(excinfo):
    frames = []
    for entry in excinfo.traceback:
        rel = relative(entry.path)
        if rel is None:
            continue
        try:
            statement = str(entry.statement).strip()
        except Exception:  # source not available
            statement = ""
        frames.append({"file": rel, "line": entry.lineno + 1, "name": entry.name, "source": statement})
    try:
        message = excinfo.exconly()
    except Exception:
        message = excinfo.typename
    return {"type": excinfo.typename, "message": message[:MESSAGE_CHARS], "frames": frames[-FRAMES:]}


def import_roots():
    """Where the repository's modules are imported from: its root (as `python -m pytest` has
    it; -I leaves the cwd out) and, in a src layout, `src/`. The workspace copy is the only
    copy of the repository in the sandbox; nothing of it is installed."""
    roots = [ROOT]
    src = os.path.join(ROOT, "src")
    if os.path.isdir(src) and not os.path.exists(os.path.join(src, "__init__.py")):
        roots.insert(0, src)
    return roots


def add_import_roots():
    for root in reversed(import_roots()):
        if root not in sys.path:
            sys.path.insert(0, root)


def module_name(rel):
    """The module a repository file is imported as, from the innermost import root."""
    for root in import_roots():
        prefix = relative(root)
        prefix = "" if prefix is None else prefix + "/"
        if rel.startswith(prefix):
            rel = rel[len(prefix):]
            break
    parts = rel[:-3].split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_identity():
    """The repository's distribution name and version as its packaging files give them
    (pyproject.toml, setup.cfg, setup.py), or None: what `importlib.metadata` would report
    had it been installed."""
    name = version = None
    try:
        import tomllib

        with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
            doc = tomllib.load(f)
        for table in (doc.get("project") or {}, (doc.get("tool") or {}).get("poetry") or {}):
            name = name or table.get("name")
            version = version or table.get("version")
    except (OSError, ValueError, ImportError):
        pass
    if not name:
        import configparser

        cfg = configparser.ConfigParser(interpolation=None)
        try:
            cfg.read(os.path.join(ROOT, "setup.cfg"))
            name = cfg.get("metadata", "name", fallback=None)
            version = version or cfg.get("metadata", "version", fallback=None)
        except configparser.Error:
            pass
    if not name:
        try:
            with open(os.path.join(ROOT, "setup.py")) as f:
                match = re.search(r"""\bname\s*=\s*['"]([A-Za-z0-9._-]+)['"]""", f.read())
            name = match.group(1) if match else None
        except (OSError, UnicodeDecodeError):
            pass
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        return None
    if not isinstance(version, str) or not re.fullmatch(r"[A-Za-z0-9.+!_-]+", version):
        version = "0.0.0"
    return name, version


def add_metadata():
    """Metadata for the repository, as if installed, in a folder of its own on sys.path: code
    that asks `importlib.metadata.version(<itself>)` at import works, while nothing of its code
    is anywhere but the workspace."""
    identity = project_identity()
    if identity is None:
        return
    name, version = identity
    folder = tempfile.mkdtemp(prefix="hgym-metadata-")
    info = os.path.join(folder, "%s-%s.dist-info" % (re.sub(r"[-.]+", "_", name), version))
    os.mkdir(info)
    with open(os.path.join(info, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))
    sys.path.append(folder)


def installed(module):
    return importlib.util.find_spec(module) is not None


def run_pytest(args, plugins):
    add_import_roots()
    add_metadata()
    base = ["-q", "-p", "no:cacheprovider", "--rootdir", ROOT, "--confcutdir", ROOT, "-o", "console_output_style=classic"]
    # Plugins of the environment that would change how tests run: coverage's tracer would
    # replace the runner's, xdist would run them in other processes, randomly reorders them.
    base += ["-p", "no:randomly"]
    if installed("pytest_cov"):
        base += ["--no-cov"]
    if installed("xdist"):
        base += ["-n", "0"]
    return pytest.main(base + list(args), plugins=plugins)


def write(out, data):
    tmp = out + ".part"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, out)


