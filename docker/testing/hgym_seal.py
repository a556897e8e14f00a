"""The sealed report of a graded test run, and the guard around the code under test.

A grader runs code the agent wrote in the same interpreter as the tests, so nothing that
process says can be taken on trust. Three things keep the report out of its reach:

- Every record is authenticated with an HMAC keyed by a one-time key that the grader
  writes to a file. The key is read and the file removed before any repository code is
  imported; only a C-level HMAC object made from it, captured in a closure, remains. Code
  under test can append to or truncate the report file, but cannot forge a record, and the
  grader refuses a report whose records do not all verify in sequence.
- An audit hook (which Python code cannot remove) refuses, while a frame of the agent's
  definition is on the stack, the ways into the harness's own objects: frames, the garbage
  collector's object lists, ctypes, /proc (the process's own memory), tracing hooks, new
  processes and signals; and code compiled or built by the agent's own frames. A refused
  event is recorded as a violation, which zeroes the run whatever the code does after.
- After each test, the harness's modules and their classes (pytest, pluggy, unittest, whose
  TestCase asserts and hands failures to pytest, this runner, builtins), and the functions
  and classes of the repository's modules (tests, helpers), are compared with a snapshot
  taken before the first test: a rebinding that the code under test did not undo is a
  violation too.
"""

import _hashlib
import _thread
import json
import os
import sys

# Events refused while any frame of the agent's definition is on the stack.
REFUSED_ON_STACK = frozenset({
    "sys._current_frames", "sys._current_exceptions", "sys.settrace", "sys.setprofile",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "os.fork", "os.forkpty", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "subprocess.Popen", "pty.spawn",
    "os.kill", "os.killpg", "signal.pthread_kill", "sys.addaudithook",
})
# Events refused when the agent's own frame makes them: code the guard could not see.
REFUSED_FROM_AGENT = frozenset({"compile", "exec", "code.__new__", "function.__new__"})
# A frame is refused when it goes to the agent: asked for by its own code, through
# `logging.currentframe` (which returns it), or by a module that hands frames back. The
# standard library's logging, enum or namedtuple look at a caller's frame and keep it.
FRAME_GETTERS = ("inspect.py", "traceback.py", "pdb.py", "bdb.py", "cgitb.py", "pydoc.py")
PASS_THROUGH = ("logging/__init__.py", "<lambda>")
FRAME_ATTRIBUTES = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"})
GUARDED_IMPORTS = ("ctypes", "_ctypes", "_testcapi", "pytest", "_pytest", "pluggy", "hgym_")
HARNESS_PREFIXES = ("pytest", "_pytest", "pluggy", "unittest", "hgym_", "__main__", "builtins")


def read_key(path):
    """The one-time key, as an HMAC object that never gives the key back; the file is removed."""
    with open(path, "rb") as f:
        key = f.read()
    os.unlink(path)
    if len(key) < 16:
        raise SystemExit("hgym: the report key is missing")
    return _hashlib.hmac_new(key, digestmod="sha256")


def install(out, key_path, root, agent_file, first_line, last_line, trusted):
    """Opens the sealed report and installs the audit hook that writes it and guards it.

    The harness reports through `sys.audit("hgym.report", kind, ...)`. The hook accepts such
    a message only from the main thread, from one of the `trusted` code objects, with no
    frame of the agent's definition on the stack, and in the order of a test's protocol
    (begin, phases, end); anything else is written down as a violation. The record of a test
    is written by the hook itself, from what it was told in order, so no object reachable
    from the code under test holds a way to write a record.
    """
    mac = read_key(key_path)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
    write, dumps, getframe, realpath, get_ident = os.write, json.dumps, sys._getframe, os.path.realpath, _thread.get_ident
    main = get_ident()
    trusted = frozenset(trusted)
    state = {"seq": 0, "test": None, "before": None}
    busy = set()

    def emit(record):
        body = dumps(record, sort_keys=True, separators=(",", ":"))
        seq = state["seq"]
        state["seq"] = seq + 1
        h = mac.copy()
        h.update(("%d\n%s" % (seq, body)).encode("utf-8"))
        write(fd, ("%d %s %s\n" % (seq, h.hexdigest(), body)).encode("utf-8"))

    def is_agent(code):
        return code.co_filename == agent_file and first_line <= code.co_firstlineno <= last_line

    def agent_on_stack(frame):
        while frame is not None:
            if is_agent(frame.f_code):
                return True
            frame = frame.f_back
        return False

    def refuse(event, detail):
        emit({"kind": "violation", "event": event, "detail": str(detail)[:200]})
        raise RuntimeError("hgym: %s is not allowed in graded code" % event)

    def report(caller, args):
        if get_ident() != main or caller.f_code not in trusted or agent_on_stack(caller):
            refuse("hgym.report", "a report message from outside the harness")
        kind, test = args[0], state["test"]
        if kind == "snapshot":
            state["before"] = snapshot_harness(root)
        elif kind == "begin" and test is None:
            state["test"] = {"kind": "test", "id": args[1], "ran": args[2], "errors": [], "started": args[3]}
        elif kind == "phase" and test is not None and args[1] == test["id"]:
            if args[2] is not None:
                test["errors"].append(args[2])
        elif kind == "ran" and test is not None:
            test["ran"] = True
        elif kind == "end" and test is not None and args[1] == test["id"]:
            state["test"] = None
            changed = harness_changes(state["before"]) if state["before"] is not None else []
            if changed:
                emit({"kind": "violation", "event": "harness changed", "detail": ", ".join(changed[:10])})
                state["before"] = snapshot_harness(root)
            emit(outcome(test, args[2]))
        elif kind == "collect_error":
            emit({"kind": "test", "id": args[1], "outcome": "error", "ms": 0.0, "error": args[2]})
        elif kind == "finish" and test is None:
            emit({"kind": "end", "exit": int(args[1])})
        else:
            refuse("hgym.report", "%s out of order" % kind)

    def relevant(event, args):
        if event in ("object.__getattr__", "object.__delattr__"):
            return args[1] in FRAME_ATTRIBUTES
        if event == "object.__setattr__":
            return args[1] == "__code__"
        if event == "import":
            return str(args[0]).startswith(GUARDED_IMPORTS)
        return event in ("open", "sys._getframe") or event in REFUSED_ON_STACK or event in REFUSED_FROM_AGENT or event.startswith("ctypes.")

    def hook(event, args):
        if event != "hgym.report" and not relevant(event, args):
            return
        ident = get_ident()
        if ident in busy:  # the hook's own calls raise events too
            return
        busy.add(ident)
        try:
            caller = getframe(1)
            if event == "hgym.report":
                report(caller, args)
            elif event == "sys._getframe":
                code = caller.f_code
                passed_on = (code.co_filename.endswith(PASS_THROUGH[0]) and code.co_name == PASS_THROUGH[1]) and caller.f_back is not None and is_agent(caller.f_back.f_code)
                if is_agent(code) or passed_on or agent_on_stack(caller) and code.co_filename.endswith(FRAME_GETTERS):
                    refuse(event, "")
            elif event in REFUSED_FROM_AGENT or event == "object.__setattr__":
                # Only the agent's own frame: a decorator of the repository swapping in its
                # compiled code at first call (networkx's argmap) is not the agent's doing.
                if is_agent(caller.f_code):
                    refuse(event, args[1] if event == "object.__setattr__" else "")
            elif agent_on_stack(caller):
                if event != "open":
                    refuse(event, args[1] if event.startswith("object.") else "")
                elif isinstance(args[0], (str, bytes)) and realpath(os.fsdecode(args[0])).startswith("/proc/"):
                    refuse(event, os.fsdecode(args[0]))
        finally:
            busy.discard(ident)

    sys.addaudithook(hook)


def outcome(test, ms):
    """A test passed only when no phase raised and its function returned."""
    errors = test.pop("errors")
    ran = test.pop("ran")
    test.pop("started")
    test["ms"] = ms
    if errors:
        test["outcome"] = "skipped" if all(e.get("type") == "Skipped" for e in errors) else "failed"
        test["error"] = errors[0]
    elif ran:
        test["outcome"] = "passed"
    else:
        test["outcome"] = "failed"
        test["error"] = {"type": "NotRun", "message": "the test function did not return", "frames": []}
    return test


def watched_modules(root):
    """The harness's modules (every binding watched) and the repository's under `root`
    (tests, conftests and helpers: their functions and classes watched, so an implementation
    cannot swap a test's helper or assertion for one that always agrees)."""
    prefix = root.rstrip("/") + "/"
    for name, module in list(sys.modules.items()):
        if module is None:
            continue
        if name.split(".")[0].startswith(HARNESS_PREFIXES):
            yield name, module, False
        elif str(getattr(module, "__file__", None) or "").startswith(prefix):
            yield name, module, True


# Bindings pytest itself sets around every test (assertion plugin).
PER_TEST = frozenset({"_pytest.assertion.util._config", "_pytest.assertion.util._reprcompare", "_pytest.assertion.util._assertion_pass"})
MISSING = object()


def space(name, namespace, callables_only):
    keys = tuple(k for k, v in namespace.items() if not callables_only or callable(v))
    return (name, namespace, keys, [id(namespace[k]) for k in keys])


def snapshot_harness(root):
    """Every watched namespace (modules and their classes), live, with the identity of each
    watched binding now: compared after each test by harness_changes. The repository's own
    caches (a lazily filled global, a class attribute holding data) are not callables and are
    left alone."""
    spaces = []
    for name, module, repository in watched_modules(root):
        try:
            namespace = vars(module)
        except TypeError:
            continue
        spaces.append(space(name, namespace, repository))
        for attr, value in list(namespace.items()):
            if isinstance(value, type) and getattr(value, "__module__", None) == name:
                spaces.append(space("%s.%s" % (name, attr), vars(value), repository))
    return spaces


def harness_changes(spaces):
    """Watched names rebound or removed since the snapshot (modules imported since are ignored)."""
    changed = []
    for name, namespace, keys, ids in spaces:
        now = [id(namespace.get(k, MISSING)) for k in keys]
        if now == ids:
            continue
        for key, before, after in zip(keys, ids, now):
            qualified = "%s.%s" % (name, key)
            if before != after and qualified not in PER_TEST and key not in ("__warningregistry__", "_"):
                changed.append(qualified)
    return sorted(changed)
