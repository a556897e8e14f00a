/**
 * From a repository to episodes: `hgym generate --corpus DIR` adds a snapshot and its
 * instances to a corpus (again on the same snapshot: nothing changes; a new revision: a new
 * snapshot beside the old one), and a server on that corpus plays them over the API.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { generate } from '../../bin/generate.js';
import { loadCorpus } from '../../env/corpus/load.js';
import type { FuncGenInstance } from '../../schemas/tasks.js';
import { serveCorpus } from '../helpers/served.js';
import { implement } from './cheats.js';

const CALC = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'calc');
const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd, encoding: 'utf8' }).trim();

const dir = t.testdir({});
const origin = join(dir, 'calc');
cpSync(CALC, origin, { recursive: true });
git(origin, 'init', '-q', '-b', 'main');
git(origin, 'add', '-A');
git(origin, 'commit', '-qm', 'one');
const first = git(origin, 'rev-parse', 'HEAD');
const corpus = join(dir, 'corpus');

interface Printed {
  instances: Record<string, number>;
  corpus: { dir: string; repos: { repo: string; dir: string; added: boolean; instances: number }[] };
  notes?: string[];
}

async function addToCorpus(rev: string): Promise<Printed> {
  let printed = '';
  const status = await generate(['--repo', `file://${origin}@${rev}`, '--corpus', corpus, '--seed', '1', '--max-per-repo', '6'], (text) => (printed += text));
  if (status !== 0) throw new Error(`generate exited ${status}: ${printed}`);
  return JSON.parse(printed) as Printed;
}

/** Every file of the corpus but its caches, with its modification time. */
function listing(): string[] {
  const out: string[] = [];
  for (const top of ['repos', 'tasks']) {
    for (const entry of readdirSync(join(corpus, top), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) out.push(`${join(entry.parentPath, entry.name)} ${statSync(join(entry.parentPath, entry.name)).mtimeMs}`);
    }
  }
  return out.sort();
}

const one = await addToCorpus(first);

t.test('generate --corpus adds the snapshot and its instances of every family', async (t) => {
  t.equal(one.corpus.repos.length, 1);
  const [repo] = one.corpus.repos;
  t.match(repo, { repo: 'calc', added: true });
  t.match(repo!.dir, /^calc@[0-9a-f]{12}$/);
  t.ok(one.instances.func_gen! > 0 && one.instances.issue_localize! > 0 && one.instances.func_localize! > 0, JSON.stringify(one));
  t.same(readdirSync(join(corpus, 'repos')), [repo!.dir]);
  t.same(readdirSync(join(corpus, 'repos', repo!.dir)).sort(), ['calc', 'tests'], 'the snapshot, without .git');
  const lines = readFileSync(join(corpus, 'tasks', `${repo!.dir}.jsonl`), 'utf8').trim().split('\n');
  t.equal(lines.length, repo!.instances);
  for (const line of lines) t.match(JSON.parse(line), { repo: { name: 'calc', dir: repo!.dir, origin: { commit: first } } });
});

t.test('again on the same snapshot: nothing changes', async (t) => {
  const before = listing();
  const again = await addToCorpus(first);
  t.match(again.corpus.repos[0], { dir: one.corpus.repos[0]!.dir, added: false, instances: one.corpus.repos[0]!.instances });
  t.same(again.instances, one.instances, 'the same instances are reported');
  t.same(listing(), before);
});

t.test('a new revision is a new snapshot beside the old one', async (t) => {
  writeFileSync(join(origin, 'calc', 'extra.py'), 'def triple(x):\n    """Return three times the given number."""\n    return 3 * x\n');
  git(origin, 'add', '-A');
  git(origin, 'commit', '-qm', 'two');
  const two = await addToCorpus(git(origin, 'rev-parse', 'HEAD'));
  t.equal(two.corpus.repos[0]!.added, true);
  t.not(two.corpus.repos[0]!.dir, one.corpus.repos[0]!.dir);
  t.same(readdirSync(join(corpus, 'repos')).sort(), [one.corpus.repos[0]!.dir, two.corpus.repos[0]!.dir].sort());
});

t.test('hgym serve on the corpus plays its episodes: func_gen gold 1, no-op 0', async (t) => {
  const served = await loadCorpus(corpus);
  const { client } = await serveCorpus(t, served, dir);
  const funcGen = [...served.instances.values()].filter((i): i is FuncGenInstance => i.task === 'func_gen');
  t.ok(funcGen.some((i) => i.repo.dir === one.corpus.repos[0]!.dir), 'both snapshots are served');
  const instance = funcGen.find((i) => i.repo.dir !== one.corpus.repos[0]!.dir)!;
  for (const [body, reward] of [[instance.gold.body, 1], [null, 0]] as const) {
    const reset = await client.reset({ instance_id: instance.instance_id });
    const step = async (action: { tool: string; arguments: Record<string, unknown> }) => (await client.step(reset.episode_id, action)).observation.text;
    if (body !== null) await implement({ step, root: String(reset.info.workspace), instance }, body);
    const done = await client.step(reset.episode_id, { tool: 'finish', arguments: {} });
    t.equal(done.reward, reward, JSON.stringify(done.info.grade));
  }
});
