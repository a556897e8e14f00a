/**
 * The sandbox image against corpora, on the real image: its listing, a repository holding a
 * file copied out of the image (left out by `hgym generate`, refused when served), and the
 * default corpus that setup built (nothing it serves is in the image).
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { generate } from '../../bin/generate.js';
import { corpusDir, setup } from '../../bin/cli.js';
import { listImageFiles } from '../../docker/image-files.js';
import { DEFAULT_IMAGE, DockerSandboxPool } from '../../docker/pool.js';
import { assertCorpusClear, corpusCollisions, whyImageHolds, type ImageFile } from '../../env/corpus/image.js';
import { loadCorpus } from '../../env/corpus/load.js';
import { sha256 } from '../../env/corpus/snapshot.js';
import { FAMILIES, generateForRepo, writeInstances } from '../../env/tasks/generate.js';

const dir = t.testdir({ home: {}, images: {}, out: {}, corpus: { repos: {} } });
const image = await listImageFiles(DEFAULT_IMAGE, { cacheDir: join(dir, 'images') });
const files = [...image.byDigest.values()].flat();

t.test('the listing holds the image root filesystem, not its mounts, and is cached by image id', async (t) => {
  t.ok(files.some((f) => f.path === '/opt/hgym/executor/__main__.py'));
  t.ok(files.some((f) => f.path.startsWith('/usr/lib/python3/dist-packages/_pytest/')));
  t.notOk(files.some((f) => /^\/(proc|sys|dev)\//.test(f.path)));
  const started = performance.now();
  const again = await listImageFiles(DEFAULT_IMAGE, { cacheDir: join(dir, 'images') });
  t.ok(performance.now() - started < 2000, 'read from the cache');
  t.equal(again.id, image.id);
  t.equal(again.byDigest.size, image.byDigest.size);
});

/** A small pure-ASCII Python file of the image's dist-packages, read inside a sandbox. */
async function copyOutOfImage(): Promise<{ file: ImageFile; text: string }> {
  const candidates = files
    .filter((f) => f.path.startsWith('/usr/lib/python3/dist-packages/') && f.path.endsWith('.py') && f.size >= 200 && f.size <= 4000)
    .sort((a, b) => (a.path < b.path ? -1 : 1));
  const pool = await DockerSandboxPool.start({ warm: 0, max: 1 });
  try {
    await using sandbox = await pool.acquire();
    for (const file of candidates) {
      const read = await sandbox.readFile(file.path);
      if (read.kind === 'file' && read.text !== undefined && sha256(read.text) === file.sha256) return { file, text: read.text };
    }
  } finally {
    await pool.close();
  }
  throw new Error('no small text file of dist-packages could be read back byte for byte');
}

const copied = await copyOutOfImage();
const CORE = 'def run(x):\n    """Run the helper on the given value and return what it gives back."""\n    return x\n';

async function fixtureRepo(root: string, withCopy: boolean): Promise<void> {
  await mkdir(join(root, 'pkg', 'vendor'), { recursive: true });
  await writeFile(join(root, 'pkg', 'core.py'), CORE);
  if (withCopy) await writeFile(join(root, 'pkg', 'vendor', 'copied.py'), copied.text);
}

t.test('hgym generate leaves out a repository holding a file of the image, and says so', async (t) => {
  const repo = join(dir, 'leaky');
  await fixtureRepo(repo, true);
  process.env.HOME = join(dir, 'home');
  let printed = '';
  const status = await generate(['--repo', repo, '--tasks', 'func_localize,dep_search', '--out', join(dir, 'out')], (text) => (printed += text));
  t.equal(status, 0);
  const summary = JSON.parse(printed) as { instances: Record<string, number>; left_out?: { repo: string; files: number; example: string }[]; notes?: string[] };
  t.same(summary.instances, { func_localize: 0, dep_search: 0 });
  t.same(summary.left_out, [{ repo: 'leaky', files: 1, example: `pkg/vendor/copied.py = ${copied.file.path}` }]);
  t.ok(summary.notes?.some((n) => n.startsWith('leaky: left out')));
});

t.test('a corpus that serves such a repository is refused; without the copy it is clear', async (t) => {
  const corpus = join(dir, 'corpus');
  const repo = join(corpus, 'repos', 'lib');
  await fixtureRepo(repo, false);
  const { instances } = await generateForRepo({ root: repo, name: 'lib' }, { tasks: ['func_localize'], image });
  t.ok(instances.length > 0);
  await writeInstances(join(corpus, 'tasks'), instances, FAMILIES);
  await t.resolves(assertCorpusClear(corpus, image));
  // Built before the check existed, or by hand: the copy appears after generation.
  await fixtureRepo(repo, true);
  await t.rejects(assertCorpusClear(corpus, image), { code: 'HGYM_ERR_CORPUS_LEAK' });
});

t.test('setup for a corpus of your own checks that corpus, and builds no default corpus', async (t) => {
  const corpus = join(dir, 'own');
  const repo = join(corpus, 'repos', 'lib');
  await fixtureRepo(repo, false);
  const { instances } = await generateForRepo({ root: repo, name: 'lib' }, { tasks: ['func_localize'], image });
  await writeInstances(join(corpus, 'tasks'), instances, FAMILIES);
  const defaultCorpus = process.env.HGYM_CORPUS_DIR;
  process.env.HGYM_CORPUS_DIR = join(dir, 'no-default-corpus');
  t.teardown(() => {
    if (defaultCorpus === undefined) delete process.env.HGYM_CORPUS_DIR;
    else process.env.HGYM_CORPUS_DIR = defaultCorpus;
  });
  t.capture(process.stderr, 'write');
  t.equal(await setup(corpus), 0);
  t.notOk(existsSync(join(dir, 'no-default-corpus')), 'the default corpus is not built');
  await fixtureRepo(repo, true);
  await t.rejects(setup(corpus), { code: 'HGYM_ERR_CORPUS_LEAK' });
});

t.test('the default corpus built by setup serves nothing the image holds', async (t) => {
  const served = corpusDir();
  t.ok(existsSync(join(served, 'tasks', 'summary.json')), `setup has built the default corpus at ${served}`);
  t.same(await corpusCollisions(served, image, (env) => listImageFiles(env, { cacheDir: join(dir, 'images') })), []);
  const repos = new Set([...(await loadCorpus(served)).instances.values()].map((i) => i.repo.dir ?? i.repo.name));
  t.ok(repos.size > 0);
  for (const repo of repos) t.equal(await whyImageHolds(join(served, 'repos', repo), image), null, repo);
  for (const held of ['attrs', 'more-itertools', 'pyparsing']) t.notOk(repos.has(held), `${held} is not served`);
});
