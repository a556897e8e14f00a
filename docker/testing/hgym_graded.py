"""The graded modes of the runner (`python3 -I hgym_pytest.py graded|script ...`): the tests
of an agent's implementation, or a standalone evaluation script, reported through the sealed
report of hgym_seal.py. The outcome is decided by the seal's audit hook from the messages
sent here, never from pytest's own reports, which the code under test could rewrite."""

import inspect
import os
import runpy
import sys
import time
import traceback
import types

import _pytest._code
import pytest

import hgym_seal
from hgym_common import FRAMES, MESSAGE_CHARS, ROOT, add_import_roots, describe, relative, run_pytest


def run_script(out, key, agent, path):
    report = sys.audit
    seal(out, key, agent, [run_script.__code__])
    add_import_roots()
    error = None
    started = time.monotonic()
    report("hgym.report", "begin", "eval_script", started)
    report("hgym.report", "call", "eval_script", None)
    try:
        runpy.run_path(path, run_name="__main__")
    except BaseException as raised:  # SystemExit too: a script that exits did not finish
        frames = [{"file": relative(f.filename) or os.path.basename(f.filename), "line": f.lineno, "name": f.name, "source": (f.line or "").strip()}
                  for f in traceback.extract_tb(raised.__traceback__)[1:]]
        error = {"type": type(raised).__name__, "message": ("%s: %s" % (type(raised).__name__, raised))[:MESSAGE_CHARS], "frames": frames[-FRAMES:]}
    report("hgym.report", "called", "eval_script", error)
    report("hgym.report", "end", "eval_script", round((time.monotonic() - started) * 1000, 2))
    report("hgym.report", "finish", 0 if error is None else 1)


def seal(out, key, agent, trusted):
    """Opens the sealed report and installs its guard (hgym_seal.py) before any repository import."""
    path, first, last = agent.rsplit(":", 2)
    hgym_seal.install(out, key, ROOT, os.path.abspath(path), int(first), int(last), trusted)


class Sealed:
    """Tells the sealed report (hgym_seal.py) what each graded test's phases raised. The hook
    decides the outcome from these messages, not from pytest's reports, which code under test
    could rewrite: a test passes only when no phase raised and the test function returned, in
    the one run of it that the item's call started."""

    @staticmethod
    def pytest_addoption(parser):
        # Graded runs leave pytest's debugging plugin out (-p no:debugging), but its options are
        # still read by pytest itself: unittest.TestCase tests ask for "usepdb" and "trace".
        group = parser.getgroup("hgym")
        group.addoption("--pdb", dest="usepdb", action="store_true", default=False)
        group.addoption("--pdbcls", dest="usepdb_cls", default=None)
        group.addoption("--trace", dest="trace", action="store_true", default=False)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        report, started = sys.audit, time.monotonic()
        report("hgym.report", "begin", item.nodeid, started)
        yield
        report("hgym.report", "end", item.nodeid, round((time.monotonic() - started) * 1000, 2))

    def pytest_collection_finish(self, session):
        # The function each wrapped test runs, as collected, before any test: the seal accepts
        # a test's call only with it, whatever the item holds by then (its `_obj` can be set).
        sys.audit("hgym.report", "snapshot", {item.nodeid: item.obj for item in session.items if returns_reported(item)})

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        outcome = yield
        sys.audit("hgym.report", "phase", item.nodeid, "setup", phase_error("setup", outcome))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        # The test function is wrapped for the call only, bound to the same instance, so a
        # class's setup and teardown see the instance they always do. A TestCase method keeps
        # the marks unittest reads from it (skip, expected failure). unittest runs an async
        # TestCase method from its instance, on its own event loop: the wrapper is put there.
        # The wrapper says when the function starts and when it returned; the seal counts only
        # the first start, of the function it was told at the call, and the return of that run.
        real = getattr(item, "obj", None) if returns_reported(item) else None
        placed = None
        report = sys.audit
        if real is not None:

            def run(*args, **kwargs):
                fn = real  # a local: the closure's cell can be set from outside
                report("hgym.report", "enter", fn)
                result = fn(*args, **kwargs)
                report("hgym.report", "ran")
                return result

            async def run_async(*args, **kwargs):
                fn = real
                report("hgym.report", "enter", fn)
                result = await fn(*args, **kwargs)
                report("hgym.report", "ran")
                return result

            owner = getattr(real, "__self__", None)
            if inspect.iscoroutinefunction(real):
                # "ran" only once the coroutine is done. Without an instance to put it on,
                # unittest runs the class's method instead and the test cannot pass.
                run_async.__dict__.update(getattr(real, "__dict__", {}))
                if owner is None or not hasattr(owner, "_testMethodName"):
                    item.obj = run_async
                else:
                    placed = (owner, owner._testMethodName)
                    setattr(owner, placed[1], run_async)
            elif owner is None:
                item.obj = run
            else:
                def method(_self, *args, **kwargs):
                    return run(*args, **kwargs)

                method.__dict__.update(getattr(real, "__dict__", {}))
                item.obj = types.MethodType(method, owner)
        report("hgym.report", "call", item.nodeid, real)
        outcome = yield
        if placed is not None:
            placed[0].__dict__.pop(placed[1], None)
        elif real is not None:
            item.obj = real
        error = phase_error("call", outcome)
        pending = getattr(item, "_excinfo", None)
        if error is None and pending:
            # A unittest.TestCase test's failure does not raise out of the call: unittest's
            # result hands it to pytest, which keeps it on the item for its report. Code under
            # test can reach that path, so it only names the error: the test still passes only
            # when its method returned.
            error = dict(describe(pending[0]), when="call")
        sys.audit("hgym.report", "called", item.nodeid, error)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        outcome = yield
        sys.audit("hgym.report", "phase", item.nodeid, "teardown", phase_error("teardown", outcome))

    def pytest_collectreport(self, report):
        if report.failed:
            error = {"type": "CollectionError", "message": str(report.longrepr)[-MESSAGE_CHARS:], "frames": []}
            sys.audit("hgym.report", "collect_error", report.nodeid, error)


def returns_reported(item):
    """Whether the call wraps the test function so that it passes only once it returned: a
    plain test function, or a unittest.TestCase method, sync or async, which unittest calls
    from the item's `obj` or from its instance. It is asked before setup too, while a TestCase
    item's `obj` is still its class's function: the answer must not change once it is bound.
    unittest's own report of a failure (the result's addFailure, `_excinfo`) is reachable from
    the code under test, so it cannot decide a pass. Any other item (a plugin's) passes on its
    phases alone."""
    kind, obj = type(item).__name__, getattr(item, "obj", None)
    if kind == "TestCaseFunction":
        return callable(obj) and not inspect.isasyncgenfunction(obj)
    return kind == "Function" and callable(obj)


def phase_error(when, outcome):
    if outcome.excinfo is None:
        return None
    return dict(describe(_pytest._code.ExceptionInfo.from_exc_info(outcome.excinfo)), when=when)


def trusted_codes():
    """The code objects allowed to send report messages: the Sealed plugin's and graded()'s."""
    codes = [graded.__code__]
    for value in vars(Sealed).values():
        code = getattr(value, "__code__", None)
        if code is not None:
            codes.append(code)
            codes.extend(c for c in code.co_consts if hasattr(c, "co_code"))
    return codes


def graded(out, key, agent, args):
    seal(out, key, agent, trusted_codes())
    # Plugins that keep the session's config where module-level code reaches it are left out.
    status = run_pytest(["-p", "no:debugging", "-p", "no:pastebin", "--assert=plain"] + list(args), [Sealed()])
    sys.audit("hgym.report", "finish", int(status))

