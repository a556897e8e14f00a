/**
 * Repository bases (env/corpus/workspace.ts, docker/executor/bases.py) on real sandboxes: a
 * workspace laid out from the base is the one the whole archive gives, file for file and in git;
 * the original of a changed file is nowhere in it; nothing the agent runs can read a base; and a
 * sandbox without the base is sent the whole archive.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DockerSandboxPool } from '../../docker/pool.js';
import { writeCorpusBases } from '../../env/corpus/load.js';
import { baseStage, prepareWorkspace, putWorkspace, writeBase } from '../../env/corpus/workspace.js';
import { DEFAULT_IMAGE } from '../../docker/pool-settings.js';
import type { Sandbox } from '../../env/sandbox.js';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';

const { corpus, instances, cacheDir, dir } = await fixtureCorpus(t);
const bases = join(dir, '..', 'bases');
t.equal(await writeCorpusBases(corpus, bases), 1, 'the base of the one repository is written');
const withBases = await DockerSandboxPool.start({ warm: 1, max: 4, bases });
const without = await DockerSandboxPool.start({ warm: 0, max: 2 });
t.teardown(async () => {
  await withBases.close();
  await without.close();
});

const ROOT = '/workspace/shapes';
const sh = async (sandbox: Sandbox, command: string) => {
  const r = await sandbox.exec(command, { timeoutMs: 30_000, maxOutput: 1 << 20 });
  return { code: r.exitCode, out: r.output };
};
/** What the agent sees of a workspace: every file's digest, and git's view of it. */
async function seen(sandbox: Sandbox) {
  const digest = (await sandbox.digest(ROOT)).entries;
  const git = await sh(sandbox, `cd ${ROOT} && git rev-parse HEAD && git ls-files -s && git status --porcelain && git fsck --full --strict 2>&1 && find . -printf '%y %m %P\\n' | sort`);
  return { digest, git };
}

const snapshot = await corpus.snapshot(instances[0]!);
const name = await writeBase(snapshot, bases);
const edited = instances.filter((i) => i.edits.length > 0);
t.ok(edited.length >= 3, 'instances with changes to lay out');

for (const instance of [...new Map(edited.map((i) => [i.task, i])).values()]) {
  t.test(`${instance.task}: laid out from the base, the workspace is the archive's`, async (t) => {
    const workspace = await prepareWorkspace(instance, snapshot, cacheDir);
    await using fromBase = await withBases.acquire();
    await using fromArchive = await without.acquire();
    t.ok(fromBase.holdsBase?.(name), 'the sandbox holds the base');
    t.notOk(fromArchive.holdsBase?.(name), 'a sandbox of a pool without bases holds none');
    await putWorkspace(fromBase, ROOT, workspace);
    await putWorkspace(fromArchive, ROOT, workspace);
    const a = await seen(fromBase);
    const b = await seen(fromArchive);
    t.same(a.digest, b.digest, 'the same files with the same contents');
    await creationOrderTellsNothing(t, fromBase, instance, 'from the base');
    await creationOrderTellsNothing(t, fromArchive, instance, 'from the archive');
    t.equal(a.git.code, 0, a.git.out);
    t.equal(a.git.out, b.git.out, 'the same commit, index, clean status, fsck, modes and tree');
    // git found every file up to date by its stat data alone: it had nothing to refresh, so it
    // did not write the index (it keeps the second after the files' time that it was given).
    for (const sandbox of [fromBase, fromArchive]) {
      t.equal((await sh(sandbox, `stat -c %Y ${ROOT}/.git/index`)).out.trim(), String(Date.UTC(2000, 0, 1) / 1000 + 1), 'git status read no file');
    }
    // The original of every changed file: not in the work tree, not in git's objects.
    for (const file of new Set(instance.edits.map((e) => e.file))) {
      const original = await readFile(join(snapshot.root, file));
      const id = createHash('sha1').update(`blob ${original.length}\0`).update(original).digest('hex');
      t.not((await sh(fromBase, `cd ${ROOT} && git cat-file -e ${id}`)).code, 0, `${file}'s original blob is not in .git`);
      const read = await fromBase.readFile(`${ROOT}/${file}`);
      t.not(read.kind === 'file' ? read.text : null, original.toString('utf8'), `${file} is the changed text`);
    }
    t.notOk(fromBase.holdsBase?.('no-such-base'), 'a base it was not given');
  });
}

/**
 * A cheating agent's look at the work tree's inode numbers and times, which follow the order
 * files were created and written: were the changed files written after the rest, they would
 * stand out. They follow the paths' order, and modification times are the tar's.
 */
async function creationOrderTellsNothing(t: Test, sandbox: Sandbox, instance: (typeof instances)[number], how: string): Promise<void> {
  // Each file's inode number, status-change time, access and modification times, by path.
  const out = (await sh(sandbox, `cd ${ROOT} && find . -path ./.git -prune -o -type f -printf '%P\\t%i\\t%C@\\t%A@\\t%T@\\n'`)).out.trim();
  const rows = out.split('\n').map((l) => l.split('\t')).sort(([a], [b]) => (a! < b! ? -1 : a! > b! ? 1 : 0));
  const rising = (values: number[], strictly: boolean) => values.every((v, i) => i === 0 || (strictly ? v > values[i - 1]! : v >= values[i - 1]!));
  t.ok(rising(rows.map((r) => Number(r[1])), true), `${instance.task}, ${how}: inode numbers follow the paths`);
  t.ok(rising(rows.map((r) => Number(r[2])), false), `${instance.task}, ${how}: so do status-change times`);
  // Access times are set to the modification time at the lay-out; reading a file (the digest above) sets it anew.
  t.equal(new Set(rows.map((r) => r[4])).size, 1, `${instance.task}, ${how}: one modification time for every file`);
}

t.test('warm sandboxes that lay out the base ahead (stages): the same workspaces, and no stage left', async (t) => {
  const spec = await baseStage(snapshot, instances.flatMap((i) => i.edits.map((e) => e.file)));
  t.ok(spec.leaveOut.length > 0, 'the files the instances change are left out');
  const staged = await DockerSandboxPool.start({ warm: 1, max: 4, bases, stages: { [DEFAULT_IMAGE]: spec } });
  t.teardown(() => staged.close());
  for (const instance of [...new Map(edited.map((i) => [i.task, i])).values()]) {
    const workspace = await prepareWorkspace(instance, snapshot, cacheDir);
    await using fromStage = await staged.acquire();
    await using fromArchive = await without.acquire();
    t.equal(await putWorkspace(fromStage, ROOT, workspace, { shell: true }), 'stage', `${instance.task}: finished from the stage`);
    await putWorkspace(fromArchive, ROOT, workspace);
    const a = await seen(fromStage);
    const b = await seen(fromArchive);
    t.same(a.digest, b.digest, `${instance.task}: the same files with the same contents`);
    t.equal(a.git.out, b.git.out, `${instance.task}: the same git`);
    t.equal((await sh(fromStage, 'ls -A /workspace')).out, 'shapes\n', `${instance.task}: nothing but the workspace in /workspace`);
    await creationOrderTellsNothing(t, fromStage, instance, 'from a stage');
  }
  // A spec that leaves out none of the changed files: the stage is dropped, the work tree laid out whole.
  const uncovered = await DockerSandboxPool.start({ warm: 1, max: 2, bases, stages: { [DEFAULT_IMAGE]: { ...spec, leaveOut: [] } } });
  t.teardown(() => uncovered.close());
  const workspace = await prepareWorkspace(edited[0]!, snapshot, cacheDir);
  await using fromUncovered = await uncovered.acquire();
  await using fromArchive = await without.acquire();
  t.equal(await putWorkspace(fromUncovered, ROOT, workspace), 'base', 'not covered: laid out from the base');
  await putWorkspace(fromArchive, ROOT, workspace);
  t.same((await seen(fromUncovered)).digest, (await seen(fromArchive)).digest, 'not covered: the same workspace all the same');
  t.equal((await sh(fromUncovered, 'ls -A /workspace')).out, 'shapes\n', 'and no stage left');
});

t.test('nothing the agent runs can read a base, or the descriptors the executor read it through', async (t) => {
  const instance = edited[0]!;
  await using sandbox = await withBases.acquire();
  await putWorkspace(sandbox, ROOT, await prepareWorkspace(instance, snapshot, cacheDir));
  const who = await sh(sandbox, "id -u; grep '^Cap' /proc/self/status");
  t.match(who.out, /^1000\n/, "the agent's user");
  t.match(who.out, /CapEff:\s+0+\n/, 'no effective capability');
  t.match(who.out, /CapPrm:\s+0+\n/, 'no permitted capability');
  t.match(who.out, /CapBnd:\s+0+\n/, 'none in the bounding set: none can ever be gained');
  const tries = [
    'ls /opt/hgym/bases',
    'cat /opt/hgym/bases/*',
    `cat /opt/hgym/bases/${name}.tar`,
    `cat /proc/1/root/opt/hgym/bases/${name}.objects`,
    'ls /proc/1/fd',
    'for f in /proc/1/fd/* /proc/1/map_files/*; do cat "$f"; done',
    `python3 -c 'import os; os.open("/opt/hgym/bases/${name}.tar", os.O_RDONLY)'`,
    `chmod 644 /opt/hgym/bases/${name}.tar`,
  ];
  for (const command of tries) {
    const r = await sh(sandbox, `${command} >/dev/null 2>&1; echo $?`);
    t.not(r.out.trim(), '0', `refused: ${command}`);
  }
  const again = await (sandbox.materialize?.(`${ROOT}-again`, (await (await prepareWorkspace(instance, snapshot, cacheDir)).layout())!) ?? Promise.resolve()).catch((e: Error) => e);
  t.match(String(again), /no base/, 'once laid out, the sandbox holds no base any more');
});

t.test('a workspace without .git from the base (a grader\'s copy)', async (t) => {
  const workspace = await prepareWorkspace(edited[0]!, snapshot, cacheDir);
  await using fromBase = await withBases.acquire();
  await using fromArchive = await without.acquire();
  await putWorkspace(fromBase, ROOT, workspace, { git: false });
  await putWorkspace(fromArchive, ROOT, workspace, { git: false });
  t.same((await fromBase.digest(ROOT)).entries, (await fromArchive.digest(ROOT)).entries);
  t.equal((await sh(fromBase, `test -e ${ROOT}/.git; echo $?`)).out.trim(), '1', 'no .git');
});

t.test('once the bases are closed, a new shell (a grader\'s fresh start, or after exit) still gets its pipes', async (t) => {
  // The bases' descriptors were the lowest free numbers; closed, the next shell's pipes take them.
  await using sandbox = await withBases.acquire();
  await putWorkspace(sandbox, ROOT, await prepareWorkspace(edited[0]!, snapshot, cacheDir));
  for (let i = 0; i < 3; i++) {
    const fresh = await sandbox.exec('echo fresh', { timeoutMs: 10_000, fresh: { cwd: ROOT } });
    t.equal(fresh.output.trim(), 'fresh', fresh.output);
    t.equal((await sandbox.exec('exit 3', { timeoutMs: 10_000 })).exitCode, 3);
    t.equal((await sandbox.exec('pwd', { timeoutMs: 10_000 })).output.trim(), ROOT);
  }
});

t.test("shell: true moves the agent's shell into the workspace, from the base and from the archive", async (t) => {
  const workspace = await prepareWorkspace(edited[0]!, snapshot, cacheDir);
  for (const [how, pool] of [['base', withBases], ['archive', without]] as const) {
    await using sandbox = await pool.acquire();
    t.equal(await putWorkspace(sandbox, ROOT, workspace, { shell: true }), how);
    // At once: the first command is queued behind the shell's `cd`.
    const first = await sandbox.exec('pwd; cd ..; echo "$OLDPWD"; ps -e -o comm= | grep -c bash; (exit 3)', { timeoutMs: 10_000 });
    t.equal(first.output, `${ROOT}\n${ROOT}\n1\n`, `${how}: its first command runs in the workspace, in the one shell`);
    t.equal(first.exitCode, 3, `${how}: with its own exit code, not the \`cd\`'s`);
    t.equal(first.cwd, '/workspace', `${how}: and the shell goes on from where that command left it`);
  }
  // Without it, the shell starts where the sandbox does, as before.
  await using plain = await without.acquire();
  await putWorkspace(plain, ROOT, workspace);
  t.not((await plain.exec('pwd', { timeoutMs: 10_000 })).output.trim(), ROOT, 'no shell option: not moved');
});
