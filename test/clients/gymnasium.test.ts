/**
 * hgym's Gymnasium environment against gymnasium 1.3 itself (the trainer libraries' venv) and
 * live servers with real sandboxes: test/clients/libraries/check_gymnasium.py checks the
 * registration (`import hgym`, `"hgym:hgym/HGym-v0"`, the entry point of the pip-installed
 * package), check_env and make's passive checker, seeding, SyncVectorEnv and AsyncVectorEnv
 * with their default settings, max_steps against TimeLimit, render modes and the spaces.
 * Every test method there must run and pass, none skipped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { pythonVenv, TRAINER_LIBRARIES } from '../helpers/python-venv.js';
import { liveServers, run } from './live-server.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PACKAGE = join(ROOT, 'clients', 'python');
const CHECKS = join(import.meta.dirname, 'libraries');

t.setTimeout(900_000);
const python = pythonVenv(TRAINER_LIBRARIES);
// Builds the package without network or build isolation; a venv of its own, so the shared one stays as it is.
const builder = pythonVenv(['setuptools>=61', 'wheel']);
const servers = await liveServers(t);
const { HGYM_API_KEY: _unused, ...inherited } = process.env;

t.test('gymnasium 1.3 takes the env: registration, check_env, seeding, vector envs, step limits', async (t) => {
  const installed = t.testdir({});
  const pip = ['-m', 'pip', 'install', '--quiet', '--no-deps', '--no-index', '--no-build-isolation', '--target', installed, PACKAGE];
  const install = await run(builder, pip, { env: { ...inherited, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_ROOT_USER_ACTION: 'ignore' }, timeoutMs: 180_000 });
  t.equal(install.code, 0, `pip installs the package with its entry point: ${install.stderr}`);

  // Warnings printed by the checks would split unittest's report lines; the one check that
  // asserts on warnings records them itself.
  const result = await run(python, ['-W', 'ignore', '-m', 'unittest', '-v', 'check_gymnasium'], {
    cwd: CHECKS,
    timeoutMs: 600_000,
    env: {
      ...inherited,
      HGYM_URL: servers.url,
      HGYM_AUTH_URL: servers.authUrl,
      HGYM_TEST_API_KEY: servers.apiKey,
      HGYM_INSTALLED: installed,
      PYTHONDONTWRITEBYTECODE: '1',
    },
  });
  // unittest reports on stderr: "name (module.Class.name) ... ok" per test, then "Ran N tests" and "OK".
  const report = result.stderr;
  const names = [...readFileSync(join(CHECKS, 'check_gymnasium.py'), 'utf8').matchAll(/^ {4}def (test_\w+)\(/gm)].map((m) => m[1]!);
  if (result.code !== 0) t.comment(report.slice(-8000));
  t.notOk(result.timedOut, 'finished within its time limit');
  t.ok(names.length >= 15, `the checks are there (${names.length})`);
  for (const name of names) t.match(report, new RegExp(`^${name} \\(.*\\) \\.\\.\\. ok$`, 'm'), name);
  t.equal(Number(/^Ran (\d+) tests? in /m.exec(report)?.[1] ?? -1), names.length, 'every check ran');
  t.match(report, /^OK$/m, 'unittest says OK');
  t.notMatch(report, /skipped/, 'nothing skipped');
  t.equal(result.code, 0, 'exit status 0');
});
