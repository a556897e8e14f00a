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

A test passes only on the one run of its function that pytest started for it: the function
collected for the item, entered once during the item's call, returning in that same frame
(see `report`). The hook and everything it calls run on copies of this module's globals and
of the builtins taken at install, before any repository code: what the code under test
rebinds later (this module's functions, `builtins.zip`, json's encoder) is not what the hook
runs. No attribute of an object the code under test made is read by the hook through its
own code (no property, `__eq__` or `__hash__` of the agent's runs inside it).
"""

import _hashlib
import _json
import _thread
import builtins
import os
import sys
from types import FunctionType, MethodType, ModuleType

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
# A test's protocol, as (stage, message) -> the next stage: setup, the call, teardown, in that
# order (a plugin that reruns a test repeats them; a script has no setup). Anything else is out
# of order. `end` may come in any stage but the call.
PROTOCOL = {
    ("begun", "setup"): "set", ("torn", "setup"): "set",
    ("begun", "call"): "calling", ("set", "call"): "calling", ("calling", "called"): "called",
    ("set", "teardown"): "torn", ("called", "teardown"): "torn",
}
# Read without calling anything of the object's own: the interpreter's modules, a module's and
# a class's namespaces through the descriptors of `module` and `type` themselves.
MODULES = sys.modules
MODULE_DICT = ModuleType.__dict__["__dict__"].__get__
CLASS_DICT = type.__dict__["__dict__"].__get__


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
    (begin, setup, call, teardown, end); anything else is written down as a violation. The
    record of a test is written by the hook itself, from what it was told in order, so no
    object reachable from the code under test holds a way to write a record.

    The hook runs as a copy of `_install` whose globals, builtins included, are a copy of this
    module's taken now: nothing reachable from the code under test refers to that copy.
    """
    names = dict(globals())
    names["__builtins__"] = dict(vars(builtins))
    for name, value in list(names.items()):
        if type(value) is FunctionType and value.__module__ == __name__:
            names[name] = FunctionType(value.__code__, names, value.__name__, value.__defaults__, value.__closure__)
    names["_install"](out, key_path, root, agent_file, first_line, last_line, frozenset(trusted))


def _install(out, key_path, root, agent_file, first_line, last_line, trusted):
    mac = read_key(key_path)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
    write, stat, getframe, get_ident = os.write, os.stat, sys._getframe, _thread.get_ident
    proc = stat("/proc").st_dev
    main = get_ident()
    state = {"seq": 0, "test": None, "before": None, "collected": None}
    busy = set()

    def unencodable(value):
        raise TypeError("hgym: a report record holds %s" % type(value).__name__)

    # json.dumps(record, sort_keys=True, separators=(",", ":")), by json's C encoder alone.
    encode = _json.make_encoder(None, unencodable, _json.encode_basestring_ascii, None, ":", ",", True, False, True)

    def emit(record):
        body = "".join(encode(record, 0))
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

    def violation(event, detail):
        emit({"kind": "violation", "event": event, "detail": str(detail)[:200]})

    def refuse(event, detail):
        violation(event, detail)
        raise RuntimeError("hgym: %s is not allowed in graded code" % event)

    def open_call(test, fn):
        # The function a wrapped item runs is the one collected for it (none for an item that
        # passes on its phases alone), whatever the item holds by now.
        collected = state["collected"] or {}
        if test_identity(fn) is not collected.get(test["id"]):
            message = "the test function of %s is not the function collected" % test["id"]
            violation("hgym.report", message)
            test["errors"].append({"type": "NotCollected", "message": message, "frames": []})
        test["call"] = {"fn": fn, "frame": None, "returned": False}

    def run_message(caller, kind, fn, test):
        # A wrapped test's function, started by the wrapper ("enter") and returned ("ran"):
        # once per call, the collected function, and the return from the frame that started it.
        # Another run (scheduled on an event loop, kept from an earlier test, made to run
        # something else) is refused, whether or not it comes before the harness's own.
        call = test["call"] if test is not None else None
        if kind == "enter":
            if call is None or call["fn"] is None:
                refuse("hgym.report", "the test function started outside its call")
            if fn is not call["fn"]:
                refuse("hgym.report", "a function other than the test's started as the test")
            if call["frame"] is not None:
                refuse("hgym.report", "the test function started again during its call")
            call["frame"] = caller
        elif call is None or call["frame"] is not caller or call["returned"]:
            refuse("hgym.report", "a return reported by a run other than the test's")
        else:
            call["returned"] = True

    def move(test, step, argument):
        after = PROTOCOL.get((test["stage"], step))
        if after is None:
            refuse("hgym.report", "%s out of order" % step)
        test["stage"] = after
        if step == "call":
            open_call(test, argument)
            return
        if argument is not None:
            test["errors"].append(argument)
        if step == "called":
            call, test["call"] = test["call"], None
            test["calls"].append(call["fn"] is None or call["returned"])

    def report(caller, args):
        if get_ident() != main or caller.f_code not in trusted or agent_on_stack(caller):
            refuse("hgym.report", "a report message from outside the harness")
        kind, test = args[0], state["test"]
        if kind == "snapshot" and state["collected"] is None:
            state["collected"] = {nodeid: test_identity(obj) for nodeid, obj in args[1].items()}
            state["before"] = snapshot_harness(root)
        elif kind == "begin" and test is None:
            state["test"] = {"id": args[1], "stage": "begun", "errors": [], "calls": [], "call": None}
        elif kind in ("enter", "ran"):
            run_message(caller, kind, args[1] if kind == "enter" else None, test)
        elif kind in ("phase", "call", "called") and test is not None and args[1] == test["id"]:
            if kind == "phase":
                move(test, args[2], args[3])
            else:
                move(test, kind, args[2])
        elif kind == "end" and test is not None and args[1] == test["id"] and test["stage"] != "calling":
            state["test"] = None
            changed = harness_changes(state["before"]) if state["before"] is not None else []
            if changed:
                violation("harness changed", ", ".join(changed[:10]))
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
                elif type(args[0]) in (str, bytes) and on_proc(args[0]):
                    refuse(event, args[0])
        finally:
            busy.discard(ident)

    def on_proc(path):
        # The file the path names now, links followed, on the /proc file system (the process's
        # own memory, its descriptors): asked of the kernel, not spelled out from the path.
        try:
            return stat(path).st_dev == proc
        except (OSError, ValueError):
            return False

    sys.addaudithook(hook)


def test_identity(obj):
    """What identifies the function a test item runs: a function, or a method's function, by
    exact type (no code of the object's own runs); any other callable by itself."""
    function = obj.__func__ if type(obj) is MethodType else obj
    return function if type(function) is FunctionType else obj


def outcome(test, ms):
    """A test passed only when no phase raised and each of its calls ran its function to the
    return (or, for an item that passes on its phases alone, ended)."""
    errors, calls = test["errors"], test["calls"]
    record = {"kind": "test", "id": test["id"], "ms": ms}
    if errors:
        record["outcome"] = "skipped" if all(e.get("type") == "Skipped" for e in errors) else "failed"
        record["error"] = errors[0]
    elif calls and all(calls):
        record["outcome"] = "passed"
    else:
        record["outcome"] = "failed"
        record["error"] = {"type": "NotRun", "message": "the test function did not return", "frames": []}
    return record


def watched_modules(root):
    """The namespaces of the harness's modules (every binding watched) and of the repository's
    under `root` (tests, conftests and helpers: their functions and classes watched, so an
    implementation cannot swap a test's helper or assertion for one that always agrees)."""
    prefix = root.rstrip("/") + "/"
    for name, module in list(MODULES.items()):
        if type(name) is not str or not issubclass(type(module), ModuleType):
            continue
        namespace = MODULE_DICT(module)
        if name.split(".")[0].startswith(HARNESS_PREFIXES):
            yield name, namespace, False
        else:
            path = namespace.get("__file__")
            if type(path) is str and path.startswith(prefix):
                yield name, namespace, True


# Bindings pytest itself sets around every test (assertion plugin).
PER_TEST = frozenset({"_pytest.assertion.util._config", "_pytest.assertion.util._reprcompare", "_pytest.assertion.util._assertion_pass"})
MISSING = object()


def space(name, namespace, callables_only):
    keys = tuple(k for k, v in namespace.items() if type(k) is str and (not callables_only or callable(v)))
    return (name, namespace, keys, [id(namespace[k]) for k in keys])


def snapshot_harness(root):
    """Every watched namespace (modules and their classes), live, with the identity of each
    watched binding now: compared after each test by harness_changes. The repository's own
    caches (a lazily filled global, a class attribute holding data) are not callables and are
    left alone."""
    spaces = []
    for name, namespace, repository in watched_modules(root):
        spaces.append(space(name, namespace, repository))
        for attr, value in list(namespace.items()):
            if type(attr) is str and issubclass(type(value), type):
                members = CLASS_DICT(value)
                owner = members.get("__module__")
                if type(owner) is str and owner == name:
                    spaces.append(space("%s.%s" % (name, attr), members, repository))
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
