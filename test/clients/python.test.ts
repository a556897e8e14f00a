/**
 * The Python client's unittest suite against live servers with real sandboxes: whole
 * episodes over REST, HGymEnv and one WebSocket, API-key auth, capacity retries. The suite
 * must run every test it has (none skipped) and pass; the package must install with pip; and
 * the README's Python quick start must run as written.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { findPython, goldFuncLocalize, liveServers, run } from './live-server.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PACKAGE = join(ROOT, 'clients', 'python');
const TESTS = join(PACKAGE, 'tests');

/** Test methods in the suite's files, counted from the source so the count follows the suite. */
function countTests(): number {
  let n = 0;
  for (const file of readdirSync(TESTS).filter((f) => /^test.*\.py$/.test(f))) {
    n += (readFileSync(join(TESTS, file), 'utf8').match(/^\s+(?:async )?def test_\w+\(/gm) ?? []).length;
  }
  return n;
}

const { python, websockets } = findPython();
const servers = await liveServers(t);
const { HGYM_API_KEY: _unused, ...inherited } = process.env;

t.test('the package installs with pip and imports without optional dependencies', async (t) => {
  const target = t.testdir({});
  // Offline where the interpreter has setuptools and wheel; else pip builds in isolation.
  const offline = (await run(python, ['-c', 'import setuptools, wheel'], { timeoutMs: 30_000 })).code === 0;
  const args = ['-m', 'pip', 'install', '--quiet', '--no-deps', '--target', target, ...(offline ? ['--no-build-isolation', '--no-index'] : []), PACKAGE];
  const install = await run(python, args, { timeoutMs: 180_000, env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_ROOT_USER_ACTION: 'ignore' } });
  t.equal(install.code, 0, install.stderr);
  const probe = await run(python, ['-c', 'import hgym, sys; print(hgym.__file__); print(hgym.Client, hgym.HGymEnv, hgym.AsyncClient)'], {
    cwd: target,
    env: { ...process.env, PYTHONPATH: target },
    timeoutMs: 30_000,
  });
  t.equal(probe.code, 0, probe.stderr);
  t.match(probe.stdout, /hgym\/__init__\.py/);
});

t.test('the unittest suite passes against live servers, every test run', async (t) => {
  t.ok(websockets, `a python3 with the websockets package (apt-get install python3-websockets), tried: ${python}`);
  // Beside the corpus: a second t.testdir() call would replace the test's directory, corpus and all.
  const goldFile = join(servers.corpusDir, '..', 'gold.json');
  writeFileSync(goldFile, JSON.stringify(goldFuncLocalize(servers.instances).gold));
  const result = await run(python, ['-m', 'unittest', 'discover', '-s', TESTS, '-t', TESTS, '-v'], {
    cwd: ROOT,
    timeoutMs: 200_000,
    env: {
      ...inherited,
      HGYM_URL: servers.url,
      HGYM_AUTH_URL: servers.authUrl,
      HGYM_TEST_API_KEY: servers.apiKey,
      HGYM_SMALL_URL: servers.smallUrl,
      HGYM_GOLD: goldFile,
      PYTHONDONTWRITEBYTECODE: '1',
    },
  });
  // unittest reports on stderr: one line per test, then "Ran N tests in Xs" and "OK".
  const report = result.stderr;
  const ran = Number(/^Ran (\d+) tests? in /m.exec(report)?.[1] ?? -1);
  const expected = countTests();
  const passed = !result.timedOut && result.code === 0 && /^OK$/m.test(report) && !/skipped/.test(report);
  if (!passed) t.comment(report.slice(-8000));
  t.notOk(result.timedOut, 'finished within its time limit');
  t.equal(result.code, 0, 'exit status 0');
  t.ok(expected >= 40, `the suite has its tests (${expected})`);
  t.equal(ran, expected, 'every test method ran');
  t.match(report, /^OK$/m, 'unittest says OK');
  t.notMatch(report, /skipped/, 'nothing skipped');
  t.comment(`python unittest: ran ${ran} tests with ${python}`);
});

t.test("the README's Python quick start runs as written", async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Python quick start'));
  const code = /```python\n([\s\S]*?)```/.exec(section)?.[1];
  if (!code) return t.fail('the README has a Python quick start block');
  t.ok(code.trim().split('\n').length < 15, 'under 15 lines');
  const script = code.replace('http://127.0.0.1:8000', servers.url) + '\nassert terminated and reward == 0.0, (terminated, reward)\n';
  t.not(script, code, 'the block names the default server URL, replaced here by the live one');
  const result = await run(python, ['-c', script], { cwd: join(ROOT, 'clients', 'python'), env: inherited, timeoutMs: 60_000 });
  t.equal(result.code, 0, result.stderr);
  t.ok(result.stdout.trim().length > 0, 'the instruction was printed');
});
