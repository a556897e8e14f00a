"""Runs a repository's tests for hgym and writes what happened as one JSON file.

Standard library and pytest only. Five modes, each `python3 -I hgym_pytest.py MODE OUT ...`
run with the repository root as the working directory:

  run OUT [pytest args]      the tests, and each test's outcome
  graded OUT KEY AGENT [pytest args]
                             the tests of a graded implementation, as a sealed report
                             (hgym_graded.py, hgym_seal.py): AGENT is `path:first:last`, the lines of the
                             agent's definition, whose frames the guard watches; KEY the
                             file of the one-time report key
  trace OUT [pytest args]    the same, plus which functions of the repository each test
                             reached: keys "path:first_line" of code objects (a decorated
                             function's first line is its first decorator's)
  script OUT KEY AGENT PATH  a standalone evaluation script (RepoST's format) run as __main__,
                             sealed as in graded mode, reported as one test, "eval_script",
                             that passes only when the script ends without any exception
                             (SystemExit included, whatever its code)
  trials OUT SPEC            for each trial of SPEC (a JSON file), a forked child in which some
                             functions' code is replaced by that of a changed source file, then
                             the trial's tests run; the parent imports the changed modules once,
                             so a trial costs little more than its tests. Consecutive trials with
                             the same "group" and tests share one child that collects the tests
                             once, then run each in a forked grandchild, on the tests no earlier
                             trial of the group passed (at most "at_most" of them), reported
                             without their errors

The JSON written to OUT: {"tests": [{"id", "outcome", "ms", "error"?}], "exit": pytest's
exit status}, in trace mode with "traced" (test ids) and "reach" ({key: [index in traced]}), or for trials {"trials": [that, or {"skipped": reason}]}.
An outcome is passed, failed (in setup, call or teardown), skipped, or error (the test could
not be collected). `error` holds the exception's type and message and the traceback's frames
inside the repository, for writing up a failure as a user would.
"""

import importlib
import json
import linecache
import os
import signal
import sys
import threading
import time

import pytest

# -I leaves this directory out of sys.path; the runner's own modules are beside it.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hgym_graded  # noqa: E402
from hgym_common import MESSAGE_CHARS, ROOT, add_import_roots, describe, module_name, relative, run_pytest, write  # noqa: E402
sys.path.pop(0)


class Reporter:
    """Each test's outcome, over its setup, call and teardown."""

    def __init__(self):
        self.tests = {}
        self.errors = {}

    def entry(self, nodeid):
        if nodeid not in self.tests:
            self.tests[nodeid] = {"id": nodeid, "outcome": "passed", "ms": 0.0}
        return self.tests[nodeid]

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        yield
        excinfo = call.excinfo
        if excinfo is not None and not excinfo.errisinstance(pytest.skip.Exception) and item.nodeid not in self.errors:
            self.errors[item.nodeid] = dict(describe(excinfo), when=call.when)

    def pytest_runtest_logreport(self, report):
        test = self.entry(report.nodeid)
        test["ms"] = round(test["ms"] + report.duration * 1000, 2)
        if report.failed:
            test["outcome"] = "failed"
            if report.nodeid in self.errors:
                test["error"] = self.errors[report.nodeid]
        elif report.skipped and test["outcome"] == "passed":
            test["outcome"] = "skipped"

    def pytest_collectreport(self, report):
        if report.failed:
            test = self.entry(report.nodeid)
            test["outcome"] = "error"
            test["error"] = {"type": "CollectionError", "message": str(report.longrepr)[-MESSAGE_CHARS:], "frames": []}

    def result(self, exit_status):
        return {"tests": list(self.tests.values()), "exit": int(exit_status)}


class Tracer:
    """Which code objects each test reached (setup, call and teardown), by a call-only trace."""

    def __init__(self):
        self.current = None
        self.reach = {}
        self.ids = []

    def hook(self, frame, event, arg):
        current = self.current
        if current is not None:
            current.add(frame.f_code)
        return None  # no line events

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(self, item, nextitem):
        self.current = set()
        sys.settrace(self.hook)
        threading.settrace(self.hook)
        try:
            yield
        finally:
            sys.settrace(None)
            threading.settrace(None)
            reached, self.current = self.current, None
            keys = set()
            for code in reached:
                rel = relative(code.co_filename)
                if rel is not None:
                    keys.add("%s:%d" % (rel, code.co_firstlineno))
            index = len(self.ids)
            self.ids.append(item.nodeid)
            for key in keys:
                self.reach.setdefault(key, []).append(index)


def find_code(code, name, first_line):
    if code.co_name == name and code.co_firstlineno == first_line:
        return code
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            found = find_code(const, name, first_line)
            if found is not None:
                return found
    return None


def live_functions(module, qualname):
    """The function objects of `qualname` in `module`, unwrapping decorators' __wrapped__."""
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    obj = getattr(obj, "__func__", obj)
    found = []
    while obj is not None and hasattr(obj, "__code__"):
        found.append(obj)
        obj = getattr(obj, "__wrapped__", None)
    return found


def patch(change):
    """Replaces the code of change's function with that compiled from change's source."""
    rel, source = change["file"], change["source"]
    module = importlib.import_module(module_name(rel))
    path = os.path.join(ROOT, rel)
    compiled = compile(source, path, "exec", dont_inherit=True)
    name = change["qualname"].split(".")[-1]
    new = find_code(compiled, name, change["code_line"])
    if new is None:
        return "no code object for %s at line %d" % (change["qualname"], change["code_line"])
    targets = [f for f in live_functions(module, change["qualname"]) if f.__code__.co_name == name]
    if not targets:
        return "no live function %s" % change["qualname"]
    for fn in targets:
        if len(fn.__code__.co_freevars) != len(new.co_freevars):
            return "closure of %s differs" % change["qualname"]
        fn.__code__ = new
    lines = source.splitlines(True)
    linecache.cache[path] = (len(source), None, lines, path)
    return None


def wait_child(pid, timeout):
    """The child's wait status; a child still running `timeout` seconds on is killed."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.01)


def forked(out, timeout, work):
    """Runs work() in a forked child in a process group of its own, for `timeout` seconds at most,
    and returns the result the child wrote to `out`."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            signal.alarm(timeout)
            work()
        except BaseException as error:  # the child must never return into the parent's loop
            try:
                write(out, {"skipped": "%s: %s" % (type(error).__name__, error)})
            except BaseException:
                pass
        os._exit(0)
    status = wait_child(pid, timeout + 5)
    try:
        os.killpg(pid, signal.SIGKILL)  # whatever the trial's tests started
    except OSError:
        pass
    try:
        with open(out) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"skipped": "the trial ended without a result (wait status %d)" % status}


def patch_all(changes):
    for change in changes:
        problem = patch(change)
        if problem:
            return problem
    return None


def quiet():
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


def run_trial(trial, timeout):
    """In a forked child: patch, run the trial's tests, write its result; returns the result."""

    def work():
        problem = patch_all(trial["changes"])
        if problem:
            write(trial["out"], {"skipped": problem})
            return
        quiet()
        reporter = Reporter()
        status = run_pytest(trial["tests"], [reporter])
        write(trial["out"], reporter.result(status))

    return forked(trial["out"], int(trial.get("timeout", timeout)), work)


class Outcomes(Reporter):
    """Each test's outcome without its error (a trial of a group asks only what passed): an
    error's traceback and source cost more than a small test's run, once per test and trial."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        yield


class Group:
    """Runs the collected tests once per trial of a group, each time in a forked child that first
    patches that trial's changes: the group's tests are collected once, not once per trial. A
    trial runs only the tests no earlier trial of the group passed (at most its "at_most" of them,
    the first in its tests' order); once none is left, or a trial gave no result, the rest run
    none. So a group answers which tests every trial of it fails."""

    def __init__(self, group, limits, reporter):
        self.group, self.limits, self.reporter = group, limits, reporter
        self.ran = False

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        if session.testsfailed:
            return None  # collection failed: pytest's own loop reports it
        self.ran = True
        left = list(session.items)
        for trial, limit in zip(self.group, self.limits):
            order = {test: i for i, test in enumerate(trial["tests"])}
            chosen = set(sorted((item.nodeid for item in left), key=lambda test: order.get(test, len(order)))[:trial.get("at_most")])
            left = [item for item in left if item.nodeid in chosen]
            if not left:
                write(trial["out"], {"tests": [], "exit": int(pytest.ExitCode.NO_TESTS_COLLECTED)})
                continue

            def work(trial=trial, items=left):
                problem = patch_all(trial["changes"])
                if problem:
                    write(trial["out"], {"skipped": problem})
                    return
                for i, item in enumerate(items):
                    item.config.hook.pytest_runtest_protocol(item=item, nextitem=items[i + 1] if i + 1 < len(items) else None)
                write(trial["out"], self.reporter.result(1 if session.testsfailed else 0))

            result = forked(trial["out"], limit, work)
            passed = {t["id"] for t in result.get("tests", []) if t["outcome"] == "passed"}
            left = [] if "skipped" in result else [item for item in left if item.nodeid not in passed]
        return True


def run_group(group, timeout):
    """Trials that share their tests: collected once in a forked child, then run per trial."""
    limits = [int(trial.get("timeout", timeout)) for trial in group]

    def work():
        quiet()
        reporter = Outcomes()
        runner = Group(group, limits, reporter)
        status = run_pytest(["--tb=no"] + group[0]["tests"], [reporter, runner])
        if not runner.ran:
            for trial in group:
                write(trial["out"], reporter.result(status))

    forked(group[0]["out"] + ".group", sum(limits) + 5 * len(group) + max(limits), work)
    results = []
    for trial in group:
        try:
            with open(trial["out"]) as f:
                results.append(json.load(f))
        except (OSError, ValueError):
            results.append({"skipped": "the trial ended without a result"})
    return results


def trials(out, spec_path):
    with open(spec_path) as f:
        spec = json.load(f)
    add_import_roots()
    specs = spec["trials"]
    for i, trial in enumerate(specs):
        trial["out"] = "%s.%d" % (out, i)
        for change in trial["changes"]:
            try:
                importlib.import_module(module_name(change["file"]))
            except Exception:
                pass  # the trial's child reports it
    timeout = int(spec.get("timeout", 60))
    results = []
    start = 0
    while start < len(specs):
        first, end = specs[start], start + 1
        if first.get("group") is None:
            results.append(run_trial(first, timeout))
        else:
            while end < len(specs) and specs[end].get("group") == first["group"] and specs[end]["tests"] == first["tests"]:
                end += 1
            results.extend(run_group(specs[start:end], timeout))
        start = end
    for trial in specs:
        for path in (trial["out"], trial["out"] + ".group"):
            try:
                os.unlink(path)
            except OSError:
                pass
    write(out, {"trials": results})


def main(argv):
    mode, out, rest = argv[0], argv[1], argv[2:]
    if mode == "trials":
        trials(out, rest[0])
        return 0
    if mode in ("graded", "script"):
        if mode == "script":
            hgym_graded.run_script(out, rest[0], rest[1], rest[2])
        else:
            hgym_graded.graded(out, rest[0], rest[1], rest[2:])
        return 0
    reporter = Reporter()
    plugins = [reporter]
    tracer = None
    if mode == "trace":
        tracer = Tracer()
        plugins.append(tracer)
        # One module that does not import (an example needing what is not installed) must not
        # keep the rest of the suite from running.
        rest = ["--continue-on-collection-errors"] + rest
    status = run_pytest(rest, plugins)
    data = reporter.result(status)
    if tracer is not None:
        data["traced"] = tracer.ids
        data["reach"] = tracer.reach
    write(out, data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
