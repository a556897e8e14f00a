/**
 * Workspaces assembled in memory are real git repositories: extracted with tar, git finds one
 * commit whose tree is exactly what `git add -A` of the same files gives, a clean status, and
 * no trace of an edited file's original text, as a file or as an object.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { snapshotOf } from '../../../env/corpus/snapshot.js';
import { prepareWorkspace } from '../../../env/corpus/workspace.js';
import type { Edit } from '../../../schemas/tasks.js';

const git = (cwd: string, ...args: string[]): string => execFileSync('git', args, { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });

const SECRET = 'return the_original_answer(a, b)';
const long = `${'deep/'.repeat(30)}module.py`;
const root = t.testdir({
  repo: {
    'README.md': 'a repository\n',
    pkg: { '__init__.py': '', 'core.py': `def add(a, b):\n    ${SECRET}\n`, 'same.py': 'x = 1\n', 'twin.py': 'x = 1\n' },
    'run.sh': '#!/bin/sh\necho hi\n',
    'b-c': { 'x.py': 'y = 2\n' },
    'b.py': 'z = 3\n',
    // Sizes that take several bytes in a pack entry's header.
    'big.txt': 'line of text\n'.repeat(20_000),
  },
  cache: {},
});
const repo = join(root, 'repo');
chmodSync(join(repo, 'run.sh'), 0o755);
mkdirSync(join(repo, long, '..'), { recursive: true });
writeFileSync(join(repo, long), 'deep = True\n');

const text = readFileSync(join(repo, 'pkg/core.py'), 'utf8');
// Line 2, the body, replaced.
const edits: Edit[] = [{ file: 'pkg/core.py', start: 2, end: 2, text: '    pass\n' }];

function extract(archive: Buffer, dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xzf', '-', '-C', dir], { input: archive });
}

t.test('the archive is a repository git reads as if git had made it', async (t) => {
  const snapshot = await snapshotOf(repo);
  const workspace = await prepareWorkspace({ instance_id: 'one', edits }, snapshot, join(root, 'cache'));
  const out = join(root, 'out');
  extract(await workspace.archive(), out);

  t.equal(readFileSync(join(out, 'pkg/core.py'), 'utf8'), 'def add(a, b):\n    pass\n', 'the edit is applied');
  t.equal(readFileSync(join(out, long), 'utf8'), 'deep = True\n', 'a path past 100 characters survives (pax)');
  t.equal(git(out, 'status', '--porcelain'), '', 'nothing is modified or untracked');
  t.equal(git(out, 'log', '--format=%an <%ae> %s'), 'hgym <hgym@localhost> workspace\n', 'one commit');
  t.equal(git(out, 'rev-parse', '--abbrev-ref', 'HEAD'), 'main\n');
  git(out, 'fsck', '--strict', '--no-dangling');
  const packs = readdirSync(join(out, '.git/objects/pack')).filter((f) => f.endsWith('.idx'));
  t.equal(packs.length, 1, 'one pack');
  git(out, 'verify-pack', join(out, '.git/objects/pack', packs[0]!));
  t.match(git(out, 'ls-files', '-s', 'run.sh'), /^100755 /, 'an executable keeps its mode');

  // The same files committed by git itself give the same tree.
  const byGit = join(root, 'by-git');
  extract(await workspace.archive({ git: false }), byGit);
  t.throws(() => readFileSync(join(byGit, '.git/HEAD')), 'the gitless archive has no .git');
  git(byGit, 'init', '-q');
  git(byGit, 'add', '-A');
  t.equal(git(byGit, 'write-tree'), git(out, 'rev-parse', 'HEAD^{tree}'), 'the tree is the one git writes');

  // The original text is nowhere: not in the files, not among the objects.
  const objects = git(out, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)').trim().split('\n');
  const contents = objects.map((id) => git(out, 'cat-file', '-p', id)).join('\n');
  t.notMatch(contents, SECRET, 'no object holds the original');
  const grep = spawnSync('grep', ['-rlF', SECRET, out], { encoding: 'utf8' });
  t.same([grep.status, grep.stdout], [1, ''], 'no file holds it');

  t.equal(await workspace.read('pkg/core.py'), 'def add(a, b):\n    pass\n', 'read gives the edited text');
  t.equal(await workspace.read('README.md'), 'a repository\n', 'and the snapshot for the rest');
  t.equal(await workspace.read('not/there.py'), null);
});

t.test('a prepared workspace is reused from its cache, and concurrent preparations share one', async (t) => {
  const snapshot = await snapshotOf(repo);
  const cache = join(root, 'cache2');
  const [a, b] = await Promise.all([prepareWorkspace({ instance_id: 'two', edits }, snapshot, cache), prepareWorkspace({ instance_id: 'two', edits }, snapshot, cache)]);
  t.equal(a, b, 'one preparation');
  const again = await prepareWorkspace({ instance_id: 'two', edits }, snapshot, cache);
  t.same(await again.archive(), await a.archive(), 'the cached archive');
  t.same([...again.files], [...a.files], 'the same file digests');
  t.equal(await again.read('pkg/core.py'), 'def add(a, b):\n    pass\n');
  const pristine = await prepareWorkspace({ instance_id: 'pristine', edits: [] }, snapshot, cache);
  const out = join(root, 'out-pristine');
  extract(await pristine.archive(), out);
  t.equal(readFileSync(join(out, 'pkg/core.py'), 'utf8'), text, 'without edits, the snapshot as it is');
  t.equal(git(out, 'status', '--porcelain'), '');
});

t.test('an edit of a file the snapshot does not hold is refused', async (t) => {
  const snapshot = await snapshotOf(repo);
  await t.rejects(prepareWorkspace({ instance_id: 'bad', edits: [{ file: 'nope.py', start: 0, end: 0, text: 'x' }] }, snapshot, join(root, 'cache')), /nope\.py/);
});

t.test('instances of one snapshot share its packed trees, and each is still the repository git would make', async (t) => {
  const snapshot = await snapshotOf(repo);
  const others: Edit[][] = [[{ file: 'b-c/x.py', start: 1, end: 1, text: 'y = 20\n' }], [{ file: long, start: 1, end: 1, text: 'deep = False\n' }], []];
  for (const [i, change] of others.entries()) {
    const workspace = await prepareWorkspace({ instance_id: `shared-${i}`, edits: change }, snapshot, join(root, 'cache'));
    const out = join(root, `shared-${i}`);
    extract(await workspace.archive(), out);
    git(out, 'fsck', '--strict', '--no-dangling');
    const pack = readdirSync(join(out, '.git/objects/pack')).find((f) => f.endsWith('.idx'))!;
    git(out, 'verify-pack', join(out, '.git/objects/pack', pack));
    t.equal(git(out, 'status', '--porcelain'), '', `instance ${i}: a clean status`);
    const byGit = join(root, `shared-${i}-by-git`);
    extract(await workspace.archive({ git: false }), byGit);
    git(byGit, 'init', '-q');
    git(byGit, 'add', '-A');
    t.equal(git(byGit, 'write-tree'), git(out, 'rev-parse', 'HEAD^{tree}'), `instance ${i}: the tree git writes`);
  }
});
