/**
 * The table of cheating agents (DESIGN §9): each row is an agent that tries to earn reward
 * without the work, read the answer, hide a code change, or turn its 0 into an error, played
 * through the real API (REST, the TypeScript client) on real sandboxes. Every row must end
 * graded, never as an error: reward 0 under the named rule. A loophole found becomes a row
 * here before it is closed.
 */
import { symlinkSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { HgymClient } from '../../clients/ts/rest.js';
import { HgymApiError } from '../../clients/ts/errors.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import { loadCorpus, writeCorpusBases } from '../../env/corpus/load.js';
import { importRepost } from '../../env/corpus/repost.js';
import { FAMILIES, generateForRepo, writeInstances } from '../../env/tasks/generate.js';
import { build } from '../../server/app.js';
import type { TaskInstance } from '../../schemas/tasks.js';
import { SHAPES } from '../helpers/fixture-corpus.js';
import { CHEATS, type Cheat } from './cheats.js';

const CALC = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'calc');
// Tests written as unittest.TestCase methods, whose failures unittest hands to pytest's item.
const TALLY = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'tally');
const root = t.testdir({ corpus: { repos: {}, tasks: {} }, cache: {}, runs: {} });
const corpusDir = join(root, 'corpus');
const cacheDir = join(root, 'cache');
// As `hgym serve` runs: sandboxes mount the corpus's bases (written below, once the corpus is
// made; the sandboxes started from then on hold them, and resets lay workspaces out from them).
const bases = join(root, 'bases');
const pool = await DockerSandboxPool.start({ warm: 2, max: 6, bases });

// The calc package (copied in by the RepoST import) gives the executed families, shapes the static ones.
const script = [
  'def slug(text, sep="-"):',
  '    words = [w for w in text.lower().split() if w]',
  '    return sep.join(words)',
  '',
  'if __name__ == "__main__":',
  '    for text, sep in [("Hello  World", "-"), ("a b c", "_")]:',
  '        assert slug(text, sep) == slug_new_implementation(text, sep), (text, sep)',
  '',
].join('\n');
const repost = await importRepost([{ repo: 'calc', func_path: 'calc/text.py', func_name: 'slug', eval_script: script, instance_id: 'calc-slug' }], new Map([['calc', CALC]]), corpusDir);
const calc = await generateForRepo(
  { root: join(corpusDir, 'repos', 'calc'), name: 'calc' },
  { seed: 1, execution: { pool, cacheDir: join(cacheDir, 'generation'), runsDir: join(root, 'runs') } },
);
const tally = await generateForRepo({ root: TALLY, name: 'tally' }, { seed: 1, execution: { pool, cacheDir: join(cacheDir, 'generation'), runsDir: join(root, 'runs') } });
symlinkSync(TALLY, join(corpusDir, 'repos', 'tally'));
const shapes = await generateForRepo({ root: SHAPES, name: 'shapes' }, { seed: 1 });
symlinkSync(SHAPES, join(corpusDir, 'repos', 'shapes'));
const instances: TaskInstance[] = [...calc.instances, ...tally.instances, ...shapes.instances, ...repost.instances];
await writeInstances(join(corpusDir, 'tasks'), instances, FAMILIES);
const corpus = await loadCorpus(corpusDir);
await writeCorpusBases(corpus, bases);
const app = await build({ instanceId: pool.owner.id, corpus, pool, cacheDir: join(cacheDir, 'workspaces') });
await app.listen({ host: '127.0.0.1', port: 0 });
t.teardown(async () => {
  await app.close();
  await pool.close();
});
const client = new HgymClient({ url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` });

/** The instance a row plays: a func_gen target by name, or the first of a family. */
function pick(cheat: Cheat): TaskInstance {
  const found = instances.find((i) => (cheat.target ? i.task === 'func_gen' && i.gold.qualname === cheat.target && (i.source === 'repost') === Boolean(cheat.repost) : i.task === cheat.task));
  if (!found) throw new Error(`no instance for ${cheat.name}: ${instances.map((i) => i.instance_id).join(', ')}`);
  return found;
}

for (const cheat of CHEATS) {
  t.test(`${cheat.finding ? `finding ${cheat.finding}: ` : ''}${cheat.name}`, async (t) => {
    const instance = pick(cheat);
    const reset = await client.reset({ instance_id: instance.instance_id });
    const id = reset.episode_id;
    t.teardown(() => client.close(id).then(() => undefined));
    const step = async (action: { tool: string; arguments: Record<string, unknown> }) => (await client.step(id, action)).observation.text;
    await cheat.play({ step, root: String(reset.info.workspace), instance });
    const done = await client.step(id, { tool: 'finish', arguments: {} });
    const grade = done.info.grade as Record<string, unknown>;
    t.equal(done.reward, 0, `${cheat.name}: ${JSON.stringify(grade)}`);
    t.ok(done.terminated, 'graded, not an error');
    if (cheat.rule) t.match(grade.rule, cheat.rule, JSON.stringify(grade));
    if (cheat.detail) t.match(JSON.stringify(grade), cheat.detail);
    t.equal((await client.state(id)).status, 'terminated');
    const again = await client.step(id, { tool: 'finish', arguments: {} }).catch((e: unknown) => e);
    t.ok(again instanceof HgymApiError && again.code === 'HGYM_ERR_EPISODE_ENDED', 'no second grading');
  });
}

t.test('the rows ran as hgym serve runs them: most workspaces laid out from the bases', async (t) => {
  // Only the sandboxes started before the bases were written were sent whole archives.
  const text = await (await fetch(`http://127.0.0.1:${(app.server.address() as { port: number }).port}/metrics`)).text();
  const count = (from: string) => Number(new RegExp(`hgym_workspaces_total\\{from="${from}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  t.ok(count('base') > count('archive'), `from bases ${count('base')}, whole archives ${count('archive')}`);
});

t.test('the honest answers still score 1 on the same instances', async (t) => {
  for (const target of ['add_all', 'clamp', 'word_counts', 'longest_word']) {
    const instance = instances.find((i) => i.task === 'func_gen' && i.source !== 'repost' && i.gold.qualname === target)!;
    const reset = await client.reset({ instance_id: instance.instance_id });
    const step = async (action: { tool: string; arguments: Record<string, unknown> }) => (await client.step(reset.episode_id, action)).observation.text;
    const { implement } = await import('./cheats.js');
    await implement({ step, root: String(reset.info.workspace), instance }, instance.task === 'func_gen' ? instance.gold.body : '');
    const done = await client.step(reset.episode_id, { tool: 'finish', arguments: {} });
    t.equal(done.reward, 1, `${target}: ${JSON.stringify(done.info.grade)}`);
  }
});

t.test('a grading that fails for the server\'s own reason ends the episode as failed with a coded error', async (t) => {
  // An instance of calc, whose snapshot is the corpus's own copy (shapes' is the test fixture).
  const instance = instances.find((i): i is Extract<TaskInstance, { task: 'func_localize' }> => i.task === 'func_localize' && i.repo.name === 'calc')!;
  const reset = await client.reset({ instance_id: instance.instance_id });
  // The snapshot the workspace was made from (the server's, not the agent's) loses a file the
  // grader reads: one the instance does not edit (an edited file's text is the workspace's own).
  const file = ['calc/ops.py', 'calc/text.py'].find((f) => !instance.edits.some((e) => e.file === f))!;
  await client.step(reset.episode_id, { tool: 'execute_bash', arguments: { command: `echo '# x' >> ${reset.info.workspace}/${file}` } });
  const original = join(corpusDir, 'repos', instance.repo.dir ?? instance.repo.name, file);
  await rename(original, `${original}.aside`);
  t.teardown(() => rename(`${original}.aside`, original));
  const failed = await client.step(reset.episode_id, { tool: 'finish', arguments: {} }).catch((e: unknown) => e);
  t.ok(failed instanceof HgymApiError && failed.code === 'HGYM_ERR_GRADING_FAILED', String(failed));
  const state = await client.state(reset.episode_id);
  t.equal(state.status, 'failed');
  t.equal(state.error?.code, 'HGYM_ERR_GRADING_FAILED');
  const after = await client.step(reset.episode_id, { tool: 'think', arguments: { thought: 'again' } }).catch((e: unknown) => e);
  t.ok(after instanceof HgymApiError && after.code === 'HGYM_ERR_EPISODE_ENDED', 'no step after a failed grading');
  t.equal((await client.trajectory(reset.episode_id)).status, 'failed');
  // Rebuilt for the rows after this one.
  await rm(join(cacheDir, 'workspaces', instance.instance_id), { recursive: true, force: true });
});

t.test('a close during grading waits for the grade: its answer and the trajectory agree', async (t) => {
  const instance = instances.find((i) => i.task === 'func_gen' && i.source !== 'repost')!;
  const reset = await client.reset({ instance_id: instance.instance_id });
  const finishing = client.step(reset.episode_id, { tool: 'finish', arguments: {} });
  // Sent once the server is grading (the state says so), not after a fixed sleep.
  const deadline = Date.now() + 30_000;
  while ((await client.state(reset.episode_id)).status === 'running' && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  const closed = await client.close(reset.episode_id);
  const done = await finishing;
  t.equal(done.terminated, true);
  t.equal(closed.status, 'terminated');
  t.equal((await client.trajectory(reset.episode_id)).status, 'terminated');
});
