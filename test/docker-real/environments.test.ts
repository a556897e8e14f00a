/**
 * Repositories whose tests need packages from pip, from `hgym generate --corpus` to episodes:
 * each gets an environment image built FROM the sandbox image with those packages (and never
 * the repository itself), its executed families are generated in it, and a server on the
 * corpus plays them there: func_gen and injected issue_localize score 1 for the gold answer
 * and 0 for a no-op over the API. A requirement pip cannot find is reported with pip's words
 * and the static families are still generated; an environment that would hold the
 * repository's own code is refused.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { setup } from '../../bin/cli.js';
import { generate } from '../../bin/generate.js';
import { listImageFiles } from '../../docker/image-files.js';
import { environmentImage, readEnvironmentRecord } from '../../env/corpus/environment.js';
import { corpusCollisions } from '../../env/corpus/image.js';
import { loadCorpus } from '../../env/corpus/load.js';
import type { FuncGenInstance, IssueLocalizeInstance, TaskInstance } from '../../schemas/tasks.js';
import { docker } from '../helpers/docker.js';
import { serveCorpus } from '../helpers/served.js';
import { implement } from './cheats.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'tasks');
const dir = t.testdir({});
const corpus = join(dir, 'corpus');

interface Printed {
  instances: Record<string, number>;
  corpus: { repos: { repo: string; dir: string; added: boolean; instances: number }[] };
  notes?: string[];
}

async function addToCorpus(...repos: string[]): Promise<Printed> {
  let printed = '';
  const args = repos.flatMap((r) => ['--repo', r]);
  const status = await generate([...args, '--corpus', corpus, '--seed', '3', '--max-per-repo', '8'], (text) => (printed += text));
  if (status !== 0) throw new Error(`generate exited ${status}: ${printed}`);
  return JSON.parse(printed) as Printed;
}

const added = await addToCorpus(join(FIXTURES, 'ledger'), join(FIXTURES, 'slugs'));
const served = await loadCorpus(corpus);
const byRepo = (name: string) => [...served.instances.values()].filter((i) => i.repo.name === name);

t.test('each fixture gets an environment of what pip resolved, and every family', async (t) => {
  // ledger runs under the image's pytest; slugs' plugins (pytest-cov, pytest-xdist) need a newer
  // pytest than the image has, so its environment brings its own.
  const expected = { ledger: { exact: true, names: ['freezegun', 'python-dateutil', 'six'] }, slugs: { exact: false, names: ['pytest', 'pluggy', 'pytest-cov', 'pytest-xdist', 'simplejson', 'text-unidecode'] } };
  for (const [name, { exact, names: packages }] of Object.entries(expected)) {
    const instances = byRepo(name);
    const families = new Set(instances.map((i) => i.task));
    t.ok(families.has('func_gen') && families.has('issue_localize') && families.has('func_localize'), `${name}: ${[...families].join(', ')}`);
    const ids = new Set(instances.map((i) => i.repo.environment));
    t.equal(ids.size, 1, `${name}: one environment for all its instances`);
    const id = [...ids][0]!;
    t.match(id, /^[0-9a-f]{64}$/);
    const record = await readEnvironmentRecord(corpus, id);
    const resolved = record.resolved.map((d) => d.name).sort();
    if (exact) t.same(resolved, [...packages].sort(), `${name}: what pip resolved, pytest left to the image`);
    else t.ok(packages.every((p) => resolved.includes(p)), `${name}: ${resolved.join(' ')}`);
    t.equal(record.image, environmentImage(id));
    const info = (await docker.getImage(record.image).inspect()) as { Config: { Labels: Record<string, string> } };
    t.equal(info.Config.Labels['hgym.environment'], id);
    const summary = JSON.parse(readFileSync(join(corpus, 'tasks', `${added.corpus.repos.find((r) => r.repo === name)!.dir}.summary.json`), 'utf8')) as { environment: { id: string } };
    t.equal(summary.environment.id, id, 'the summary names the environment');
  }
});

t.test("slugs' traced run: its addopts (--cov, -n 2) do not change how it runs, and it has its metadata", async (t) => {
  const instance = byRepo('slugs')[0]!;
  const trace = JSON.parse(readFileSync(join(corpus, 'cache', 'runs', `${instance.repo.snapshot}.${instance.repo.environment!.slice(0, 16)}`, 'trace.json'), 'utf8')) as { tests: { id: string; outcome: string }[] };
  t.same(trace.tests.filter((x) => x.outcome !== 'passed'), [], 'every test passed in the traced run');
  t.ok(trace.tests.some((x) => x.id === 'tests/test_text.py::test_version'), "importlib.metadata.version('slugs') answered 0.3.0");
  t.equal(trace.tests.length, 7);
});

t.test('no environment image holds a file of any snapshot', async (t) => {
  const base = await listImageFiles('hgym/sandbox:latest', { cacheDir: join(dir, 'images') });
  const found = await corpusCollisions(corpus, base, (image) => listImageFiles(image, { cacheDir: join(dir, 'images') }));
  t.same(found, []);
});

t.test('a requirement pip cannot find: pip says why, and the static families are still made', async (t) => {
  const repo = join(dir, 'needs-missing');
  cpSync(join(FIXTURES, 'calc'), repo, { recursive: true });
  writeFileSync(join(repo, 'requirements.txt'), 'hgym-no-such-package-anywhere==1.0\n');
  const out = await addToCorpus(repo);
  t.ok(out.instances.func_localize! > 0, 'func_localize is still generated');
  t.equal(out.instances.func_gen ?? 0, 0);
  const note = out.notes?.find((n) => n.startsWith('needs-missing: no func_gen')) ?? '';
  t.match(note, /its environment could not be made: pip install hgym-no-such-package-anywhere==1\.0: .*(No matching distribution|Could not find a version)/);
  const summary = JSON.parse(readFileSync(join(corpus, 'tasks', `${out.corpus.repos[0]!.dir}.summary.json`), 'utf8')) as { environment: { error: string } };
  t.match(summary.environment.error, /hgym-no-such-package-anywhere/);
  const instances = (await loadCorpus(corpus)).instances;
  t.notOk([...instances.values()].some((i) => i.repo.name === 'needs-missing' && i.repo.environment), 'its instances run in the sandbox image');
});

t.test("an environment that would hold the repository's own code is refused", async (t) => {
  // A repository whose own package is one its requirements install: `text_unidecode`.
  const repo = join(dir, 'own-package');
  mkdirSync(join(repo, 'text_unidecode'), { recursive: true });
  mkdirSync(join(repo, 'tests'), { recursive: true });
  writeFileSync(join(repo, 'text_unidecode', '__init__.py'), 'def unidecode(text):\n    """Plain ASCII for the given text."""\n    out = text.encode("ascii", "ignore")\n    return out.decode("ascii")\n');
  writeFileSync(join(repo, 'tests', 'test_it.py'), 'from text_unidecode import unidecode\n\n\ndef test_it():\n    assert unidecode("a") == "a"\n');
  writeFileSync(join(repo, 'requirements.txt'), 'text-unidecode\n');
  const out = await addToCorpus(repo);
  const note = out.notes?.find((n) => n.startsWith('own-package: no func_gen')) ?? '';
  t.match(note, /its environment could not be made: the environment image hgym\/env:[0-9a-f]{16} holds a copy of the repository's own code at \/usr\/local\/lib\/python3\.11\/dist-packages\/text_unidecode/);
});

t.test('served: episodes run in their environment; func_gen and issue_localize gold 1, no-op 0', async (t) => {
  const { client, pool } = await serveCorpus(t, served, dir);
  for (const name of ['ledger', 'slugs']) {
    const instances = byRepo(name);
    const image = environmentImage(instances[0]!.repo.environment!);
    const funcGen = instances.find((i): i is FuncGenInstance => i.task === 'func_gen')!;
    const issue = instances.find((i): i is IssueLocalizeInstance => i.task === 'issue_localize')!;
    for (const [instance, gold] of [[funcGen, true], [funcGen, false], [issue, true], [issue, false]] as [TaskInstance, boolean][]) {
      const reset = await client.reset({ instance_id: instance.instance_id });
      const root = String(reset.info.workspace);
      const step = async (action: { tool: string; arguments: Record<string, unknown> }) => (await client.step(reset.episode_id, action)).observation.text;
      t.ok((pool.stats().environments?.[image]?.leased ?? 0) >= 1, `${name}: the episode's sandbox is of ${image}`);
      if (gold && instance.task === 'func_gen') {
        const probe = await step({ tool: 'execute_bash', arguments: { command: 'cd /tmp && python3 -c "import freezegun" 2>&1; python3 -c "import simplejson" 2>&1; python3 -c "import ' + name + '" 2>&1 | tail -1' } });
        t.match(probe, new RegExp(`No module named '${name}'`), `${name}: the repository is not installed, only its workspace copy exists`);
        await implement({ step, root, instance }, instance.gold.body);
      }
      if (gold && instance.task === 'issue_localize') {
        const ranges = [...instance.gold.lines].sort((a, b) => (a.file === b.file ? b.start - a.start : a.file < b.file ? -1 : 1));
        for (const r of ranges) {
          const line = await step({ tool: 'execute_bash', arguments: { command: `sed -n '${r.start}p' ${root}/${r.file}` } });
          const indent = /^\s*/.exec(line)![0];
          await step({ tool: 'str_replace_editor', arguments: { command: 'insert', path: `${root}/${r.file}`, insert_line: r.start - 1, new_str: `${indent}# the issue comes from here` } });
        }
      }
      const done = await client.step(reset.episode_id, { tool: 'finish', arguments: {} });
      t.equal(done.reward, gold ? 1 : 0, `${name} ${instance.task} ${gold ? 'gold' : 'no-op'}: ${JSON.stringify(done.info.grade)}`);
    }
  }
});

t.test('serve --corpus builds a missing environment image again from its record', async (t) => {
  const id = byRepo('ledger')[0]!.repo.environment!;
  const image = environmentImage(id);
  await docker.getImage(image).remove({ force: true });
  t.equal(await docker.getImage(image).inspect().then(() => 200, (e: { statusCode?: number }) => e.statusCode), 404, 'the image is gone');
  t.equal(await setup(corpus), 0);
  const info = (await docker.getImage(image).inspect()) as { Config: { Labels: Record<string, string> } };
  t.equal(info.Config.Labels['hgym.environment'], id, 'built again, the same environment');
  const record = await readEnvironmentRecord(corpus, id);
  t.equal(info.Config.Labels['hgym.base'], (await docker.getImage('hgym/sandbox:latest').inspect()).Id, 'FROM the current sandbox image');
  t.ok(record.resolved.length > 0);
});
