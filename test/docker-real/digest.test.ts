/**
 * What an episode changed, read from a real sandbox: the executor's digest (not the agent's
 * shell, not git) against the workspace as it was given.
 */
import t from 'tap';
import { sha256 } from '../../env/corpus/snapshot.js';
import { collectChanges } from '../../env/tasks/changes.js';
import { ToolBox } from '../../env/tools/toolbox.js';
import { DockerSandboxPool } from '../../docker/pool.js';

const pool = await DockerSandboxPool.start({ warm: 1, max: 3 });
t.teardown(() => pool.close());

const ROOT = '/workspace/repo';
const FILES: Record<string, string> = {
  'pkg/__init__.py': '',
  'pkg/core.py': 'def f():\n    return 1\n',
  'README.md': '# repo\n',
};

t.test('digest hashes regular files, reports links and FIFOs without opening them, skips .git', async (t) => {
  await using sb = await pool.acquire();
  for (const [path, text] of Object.entries(FILES)) await sb.writeFile(`${ROOT}/${path}`, text, { parents: true });
  await sb.exec(`cd ${ROOT} && mkdir -p .git && echo x > .git/HEAD && ln -s /dev/zero zero && mkfifo pipe && ln -s pkg pkglink`, { timeoutMs: 5000 });
  const started = Date.now();
  const digest = await sb.digest(ROOT);
  t.ok(Date.now() - started < 5000, 'a FIFO and a link to /dev/zero do not stall it');
  const byPath = new Map(digest.entries.map((e) => [e.path, e]));
  t.same(byPath.get('pkg/core.py'), { path: 'pkg/core.py', kind: 'file', size: FILES['pkg/core.py']!.length, sha256: sha256(FILES['pkg/core.py']!) });
  t.equal(byPath.get('zero')?.kind, 'symlink');
  t.equal(byPath.get('pkglink')?.kind, 'symlink');
  t.equal(byPath.get('pipe')?.kind, 'other');
  t.notOk([...byPath.keys()].some((p) => p.startsWith('.git')), '.git is not part of the workspace');
});

t.test('collectChanges sees edits, deletions and additions, whatever the agent does to git or the shell', async (t) => {
  await using sb = await pool.acquire();
  for (const [path, text] of Object.entries(FILES)) await sb.writeFile(`${ROOT}/${path}`, text, { parents: true });
  await sb.exec(`cd ${ROOT} && git init -q && git add -A && git -c user.email=a@b -c user.name=a commit -qm base`, { timeoutMs: 10_000 });
  const baseline = { files: new Map(Object.entries(FILES).map(([p, text]) => [p, sha256(text)])), read: async (p: string) => FILES[p] ?? null };
  const tools = new ToolBox(sb);
  await tools.run({ tool: 'str_replace_editor', arguments: { command: 'str_replace', path: `${ROOT}/pkg/core.py`, old_str: 'return 1', new_str: 'return 2' } });
  // Hiding the change: commit it, and shadow the commands a naive grader would run.
  await tools.run({ tool: 'execute_bash', arguments: { command: `cd ${ROOT} && rm README.md && echo scratch > notes.txt && git add -A && git -c user.email=a@b -c user.name=a commit -qm hide && sha256sum() { echo fake; }; find() { :; }` } });
  const changes = await collectChanges(sb, ROOT, baseline);
  t.same(changes.modified.map((m) => [m.path, m.before, m.after]), [['pkg/core.py', FILES['pkg/core.py'], 'def f():\n    return 2\n']]);
  t.same(changes.deleted, ['README.md']);
  t.same(changes.added, ['notes.txt']);
});
