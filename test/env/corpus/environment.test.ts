/**
 * Environments without Docker: what identifies one, what of pip's output is kept as the
 * reason of a failure, and what is removed from pip's install (the image's own pytest and
 * what it is built from). pip here is a stand-in script that installs as pip does
 * (`--target` with `.dist-info/RECORD`, a `--report`); the real pip is used by
 * test/docker-real/environments.test.ts.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { environmentId, imageOf, pipReason, reportedDistributions, resolveEnvironment } from '../../../env/corpus/environment.js';

const target = { version: '3.11', siteDir: '/usr/local/lib/python3.11/dist-packages' };

t.test('an environment is named by the resolved set and the Python, not by order or the base image', async (t) => {
  const a = environmentId('3.11', [{ name: 'six', version: '1.17.0' }, { name: 'freezegun', version: '1.5.5' }]);
  t.equal(a, environmentId('3.11', [{ name: 'freezegun', version: '1.5.5' }, { name: 'six', version: '1.17.0' }]));
  t.not(a, environmentId('3.12', [{ name: 'freezegun', version: '1.5.5' }, { name: 'six', version: '1.17.0' }]));
  t.not(a, environmentId('3.11', [{ name: 'freezegun', version: '1.5.4' }, { name: 'six', version: '1.17.0' }]));
  t.same(imageOf({ environment: a }), { image: `hgym/env:${a.slice(0, 16)}` });
  t.same(imageOf({}), {}, 'no environment: the pool is asked for its base image');
});

t.test("pip's reason: its ERROR lines, without retry warnings; the last lines otherwise", async (t) => {
  const stderr = [
    "WARNING: Retrying (Retry(total=4)) after connection broken: '/simple/nope/'",
    'ERROR: Could not find a version that satisfies the requirement nope==1.0 (from versions: none)',
    'ERROR: No matching distribution found for nope==1.0',
    '',
  ].join('\n');
  t.equal(pipReason(stderr), 'ERROR: Could not find a version that satisfies the requirement nope==1.0 (from versions: none) ERROR: No matching distribution found for nope==1.0');
  t.equal(pipReason('something\nwent wrong\n'), 'something went wrong');
  t.equal(pipReason(''), 'pip failed without saying why');
  t.ok(pipReason(`ERROR: ${'x'.repeat(2000)}`).length <= 601, 'a long reason is cut');
});

t.test('reported distributions: normalised names, one each, sorted', async (t) => {
  const got = reportedDistributions({ install: [{ metadata: { name: 'Python_Dateutil', version: '2.9' } }, { metadata: { name: 'six', version: '1.17.0' } }, { metadata: {} }] });
  t.same(got, [{ name: 'python-dateutil', version: '2.9' }, { name: 'six', version: '1.17.0' }]);
});

/** A stand-in for `python3`: `-c` answers the version, `-m pip install` installs what FAKE_INSTALL lists. */
function fakePython(dir: string): string {
  const path = join(dir, 'python');
  writeFileSync(
    path,
    `#!/usr/bin/env node
const fs = require('node:fs'), path = require('node:path');
const args = process.argv.slice(2);
if (args[0] === '-c') { process.stdout.write('3.11\\nx86_64\\n'); process.exit(0); }
fs.writeFileSync(process.env.FAKE_ARGS, JSON.stringify(args));
if (process.env.FAKE_FAIL) { process.stderr.write(process.env.FAKE_FAIL); process.exit(1); }
if (process.env.FAKE_CONFLICT && args.includes('-c')) { process.stderr.write('ERROR: Cannot install x because these package versions have conflicting dependencies.\\nERROR: ResolutionImpossible\\n'); process.exit(1); }
const site = args[args.indexOf('--target') + 1], report = args[args.indexOf('--report') + 1];
const install = [];
for (const spec of process.env.FAKE_INSTALL.split(' ')) {
  const [name, version] = spec.split('==');
  const info = path.join(site, name + '-' + version + '.dist-info');
  fs.mkdirSync(path.join(site, name), { recursive: true });
  fs.mkdirSync(info, { recursive: true });
  fs.writeFileSync(path.join(site, name, '__init__.py'), '# ' + name + '\\n');
  fs.writeFileSync(path.join(info, 'RECORD'), name + '/__init__.py,,\\n' + name + '-' + version + '.dist-info/RECORD,,\\n../../escape.txt,,\\n');
  install.push({ metadata: { name, version } });
}
fs.mkdirSync(path.join(site, 'bin'), { recursive: true });
fs.writeFileSync(path.join(site, 'bin', 'tool'), '');
fs.writeFileSync(report, JSON.stringify({ install }));
`,
  );
  chmodSync(path, 0o755);
  return path;
}

t.test("pip's install loses pytest and its own packages, and keeps the rest", async (t) => {
  const dir = t.testdir({ work: {} });
  writeFileSync(join(dir, 'escape.txt'), 'outside the install');
  const python = fakePython(dir);
  const env = { ...process.env, FAKE_ARGS: join(dir, 'args.json'), FAKE_INSTALL: 'freezegun==1.5.5 pytest==8.0.0 pluggy==1.5.0 six==1.17.0' };
  const spec = await resolveEnvironment({ requirements: ['freezegun', 'pytest>=7'], sources: ['pyproject.toml'], skipped: [] }, { base: 'sha256:base', target, workDir: join(dir, 'work', 'w'), python, env });
  t.ok(spec);
  t.same(spec!.resolved, [{ name: 'freezegun', version: '1.5.5' }, { name: 'six', version: '1.17.0' }]);
  t.equal(readFileSync(join(dir, 'work', 'w', 'requirements.txt'), 'utf8'), 'freezegun\n', 'pytest is not asked for');
  const site = join(dir, 'work', 'w', 'site');
  t.ok(existsSync(join(site, 'freezegun', '__init__.py')));
  t.notOk(existsSync(join(site, 'pytest')), "pytest's files are removed");
  t.notOk(existsSync(join(site, 'pluggy-1.5.0.dist-info')), "pluggy's metadata is removed");
  t.notOk(existsSync(join(site, 'bin')), 'scripts are removed');
  t.ok(existsSync(join(dir, 'escape.txt')), 'a RECORD path outside the install is not followed');
  const args = JSON.parse(readFileSync(join(dir, 'args.json'), 'utf8')) as string[];
  t.notOk(args.includes('--python-version'), 'same Python on the host: no cross-version options');
});

t.test('only the harness asked for, or pip installs only the harness: no environment', async (t) => {
  const dir = t.testdir({});
  const python = fakePython(dir);
  const env = { ...process.env, FAKE_ARGS: join(dir, 'args.json'), FAKE_INSTALL: 'pytest==8.0.0' };
  t.equal(await resolveEnvironment({ requirements: ['pytest', 'pluggy'], sources: [], skipped: [] }, { base: 'b', target, workDir: join(dir, 'w'), python, env }), null);
  t.notOk(existsSync(join(dir, 'args.json')), 'pip is not run at all');
  t.equal(await resolveEnvironment({ requirements: ['pytest-timeout'], sources: [], skipped: [] }, { base: 'b', target, workDir: join(dir, 'w'), python, env }), null);
});

t.test("a failing pip is an EnvironmentError with pip's words; a missing Python says so", async (t) => {
  const dir = t.testdir({});
  const python = fakePython(dir);
  const env = { ...process.env, FAKE_ARGS: join(dir, 'args.json'), FAKE_FAIL: 'ERROR: No matching distribution found for nope\n' };
  await t.rejects(resolveEnvironment({ requirements: ['nope'], sources: [], skipped: [] }, { base: 'b', target, workDir: join(dir, 'w'), python, env }), {
    name: 'EnvironmentError',
    message: 'pip install nope: ERROR: No matching distribution found for nope',
  });
  await t.rejects(resolveEnvironment({ requirements: ['x'], sources: [], skipped: [] }, { base: 'b', target, workDir: join(dir, 'w'), python: join(dir, 'no-such-python') }), {
    name: 'EnvironmentError',
    message: /no Python to run pip with/,
  });
});

t.test("held to the image's pytest first; when the plugins need a newer one, the environment keeps pip's", async (t) => {
  const dir = t.testdir({});
  const python = fakePython(dir);
  const harness = { pytest: '7.2.1', pluggy: '1.0.0' };
  const base = { FAKE_ARGS: join(dir, 'args.json'), FAKE_INSTALL: 'pytest-cov==7.1.0 pytest==9.1.1 pluggy==1.6.0' };
  const held = await resolveEnvironment({ requirements: ['pytest-cov'], sources: [], skipped: [] }, { base: 'b', target: { ...target, harness }, workDir: join(dir, 'a'), python, env: { ...process.env, ...base } });
  t.same(held!.resolved, [{ name: 'pytest-cov', version: '7.1.0' }], 'a resolution held to the image: its pytest is removed');
  t.ok((JSON.parse(readFileSync(join(dir, 'args.json'), 'utf8')) as string[]).includes('-c'), 'pip is held to the image\'s versions');
  t.equal(readFileSync(join(dir, 'a', 'constraints.txt'), 'utf8'), 'pytest==7.2.1\npluggy==1.0.0\n');
  const kept = await resolveEnvironment({ requirements: ['pytest-cov'], sources: [], skipped: [] }, { base: 'b', target: { ...target, harness }, workDir: join(dir, 'b'), python, env: { ...process.env, ...base, FAKE_CONFLICT: '1' } });
  t.same(kept!.resolved.map((d) => d.name), ['pluggy', 'pytest', 'pytest-cov'], "no resolution held to the image: pip's pytest stays");
  t.ok(existsSync(join(dir, 'b', 'site', 'pytest', '__init__.py')));
  t.notOk((JSON.parse(readFileSync(join(dir, 'args.json'), 'utf8')) as string[]).includes('-c'), 'the second try is not held');
  t.not(kept!.id, held!.id);
});
