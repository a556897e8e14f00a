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


def run_pytest(args, plugins):
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)  # as `python -m pytest` does; -I leaves the cwd out
    base = ["-q", "-p", "no:cacheprovider", "--rootdir", ROOT, "--confcutdir", ROOT, "-o", "console_output_style=classic"]
    return pytest.main(base + list(args), plugins=plugins)


def write(out, data):
    tmp = out + ".part"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, out)


