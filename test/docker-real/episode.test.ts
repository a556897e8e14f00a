/**
 * Whole episodes in real sandboxes: the workspace copied in, steps through the tools,
 * grading at finish or at the step limit, and the state machine's refusals.
 */
import { join } from 'node:path';
import t from 'tap';
import { snapshotOf } from '../../env/corpus/snapshot.js';
import { Episode } from '../../env/episode.js';
import { generateForRepo } from '../../env/tasks/generate.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import type { DepSearchInstance, FuncLocalizeInstance } from '../../schemas/tasks.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'shapes');
const pool = await DockerSandboxPool.start({ warm: 2, max: 6 });
t.teardown(() => pool.close());
const snapshot = await snapshotOf(FIXTURE);
const { instances } = await generateForRepo({ root: FIXTURE, name: 'shapes' }, { seed: 1 });
const cacheDir = t.testdir({});
const localize = instances.find((i): i is FuncLocalizeInstance => i.task === 'func_localize' && i.variant === 'named')!;
const deps = instances.find((i): i is DepSearchInstance => i.task === 'dep_search')!;

const bash = (command: string) => ({ tool: 'execute_bash', arguments: { command } });

t.test('the workspace is the instance: files, one commit, no history, owned by the agent', async (t) => {
  const episode = await Episode.reset({ instance: localize, snapshot, pool, cacheDir });
  t.teardown(() => episode.close());
  t.equal(episode.resetInfo().workspace, '/workspace/shapes');
  const r = await episode.step(bash('cd /workspace/shapes && git log --oneline | wc -l && git status --porcelain | wc -l && stat -c %U shapes/__init__.py'));
  t.match(r.observation.text, /^1\n0\nagent\n/);
  const target = localize.gold.targets[0]!;
  const view = await episode.step({ tool: 'str_replace_editor', arguments: { command: 'view', path: `/workspace/shapes/${target.file}`, view_range: [target.line, target.line + 1] } });
  t.match(view.observation.text, new RegExp(`def ${target.qualname.split('.').pop()}`));
  t.notMatch(view.observation.text, /"""/, 'the docstring is gone');
});

t.test('func_localize: the gold answer through step scores 1 at finish', async (t) => {
  const episode = await Episode.reset({ instance: localize, snapshot, pool, cacheDir });
  t.teardown(() => episode.close());
  const target = localize.gold.targets[0]!;
  const py = `import ast,sys\np='/workspace/shapes/${target.file}'\nsrc=open(p).read()\nfor n in ast.walk(ast.parse(src)):\n    if isinstance(n,(ast.FunctionDef,ast.AsyncFunctionDef)) and n.lineno==${target.line}:\n        print(n.body[0].lineno-1, n.body[0].col_offset)`;
  const where = await episode.step(bash(`python3 -c "${py.replace(/"/g, '\\"')}"`));
  const [after, indent] = where.observation.text.split('\n')[0]!.split(' ').map(Number);
  const doc = `${' '.repeat(indent!)}"""${target.docstring.split('\n')[0]}"""`;
  const insert = await episode.step({ tool: 'str_replace_editor', arguments: { command: 'insert', path: `/workspace/shapes/${target.file}`, insert_line: after, new_str: doc } });
  t.notOk(insert.terminated);
  const done = await episode.step({ tool: 'finish', arguments: {} });
  t.equal(done.terminated, true);
  t.equal(done.reward, 1, JSON.stringify(done.info));
  await t.rejects(episode.step(bash('echo late')), { code: 'HGYM_ERR_EPISODE_ENDED' });
  t.equal(episode.state().status, 'terminated');
});

t.test('dep_search: a no-op finish scores 0; a code change hidden by a commit scores 0', async (t) => {
  const noop = await Episode.reset({ instance: deps, snapshot, pool, cacheDir });
  t.teardown(() => noop.close());
  t.equal((await noop.step({ tool: 'finish', arguments: {} })).reward, 0);

  const cheat = await Episode.reset({ instance: deps, snapshot, pool, cacheDir });
  t.teardown(() => cheat.close());
  const file = deps.gold.dependencies[0]!.file;
  await cheat.step(bash(`cd /workspace/shapes && echo 'x = 1' >> ${file} && git -c user.email=a@b -c user.name=a commit -qam hide`));
  const result = await cheat.step({ tool: 'finish', arguments: {} });
  t.equal(result.reward, 0);
  t.equal((result.info.grade as { rule: string }).rule, 'code_changed');
});

t.test('max_steps truncates and still grades', async (t) => {
  const episode = await Episode.reset({ instance: deps, snapshot, pool, cacheDir, limits: { maxSteps: 2 } });
  t.teardown(() => episode.close());
  const first = await episode.step({ tool: 'think', arguments: { thought: 'hm' } });
  t.same([first.terminated, first.truncated], [false, false]);
  const second = await episode.step({ message: 'I am done' });
  t.same([second.terminated, second.truncated], [false, true]);
  t.equal(second.reward, 0);
  t.ok(second.info.grade, 'graded as it stands');
  await t.rejects(episode.step(bash('echo')), { code: 'HGYM_ERR_EPISODE_ENDED' });
});

t.test('close is idempotent and releases the sandbox; a later step is refused', async (t) => {
  const episode = await Episode.reset({ instance: deps, snapshot, pool, cacheDir });
  await episode.close();
  await episode.close();
  t.equal(episode.state().status, 'closed');
  await t.rejects(episode.step(bash('echo')), { code: 'HGYM_ERR_EPISODE_ENDED' });
});
