"""What the runners of hgym_pytest.py and hgym_graded.py share: where the repository is,
how an exception is written up, how pytest is started, how the report is written."""

import json
import os
import sys

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


def run_pytest(args, plugins):
    add_import_roots()
    base = ["-q", "-p", "no:cacheprovider", "--rootdir", ROOT, "--confcutdir", ROOT, "-o", "console_output_style=classic"]
    return pytest.main(base + list(args), plugins=plugins)


def write(out, data):
    tmp = out + ".part"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, out)


