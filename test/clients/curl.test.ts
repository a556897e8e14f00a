/**
 * clients/curl/hgym.sh against a listening server with real sandboxes (and an API key):
 * whole episodes through the script, and error answers on stderr with a failing status.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import type { Closed, EpisodeState, ErrorBody, ResetResult, StepResult, Tasks, Tools, Trajectory } from '../../clients/ts/index.js';
import { applyFuncLocalizeGoldThroughSteps } from '../helpers/api-gold.js';
import type { FuncLocalizeInstance } from '../../schemas/tasks.js';
import { freePort, liveServer } from './ts-live-server.js';

const script = join(import.meta.dirname, '..', '..', 'clients', 'curl', 'hgym.sh');
const apiKey = 'curl-test-key';
const { url, instances, pool } = await liveServer(t, { apiKey });

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function hgym(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(script, args, { env: { ...process.env, HGYM_URL: url, HGYM_API_KEY: apiKey, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ status: err ? Number(err.code ?? -1) : 0, stdout, stderr }),
    );
  });
}

/** The script's answer, parsed; a failing status throws with what it printed to stderr. */
async function answer<T>(...args: string[]): Promise<T> {
  const run = await hgym(args);
  if (run.status !== 0) throw new Error(`hgym.sh ${args.join(' ')} exited ${run.status}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}

t.test('a whole func_localize episode through the script: the gold answer scores 1', async (t) => {
  const reset = await answer<ResetResult>('reset', 'func_localize', '3');
  t.equal(reset.info.task, 'func_localize');
  const id = reset.episode_id;
  const instance = instances.find((i): i is FuncLocalizeInstance => i.instance_id === reset.info.instance_id)!;

  // Quotes, a backslash, a tab and a newline survive the trip into the JSON body.
  const command = `x='say "hi"'\nprintf '%s|%s|%s\\n' "$x" 'back\\slash' '\t'`;
  const echoed = await answer<StepResult>('bash', id, command);
  t.match(echoed.observation.text, 'say "hi"|back\\slash|\t\n');

  await applyFuncLocalizeGoldThroughSteps(instance, String(reset.info.workspace), async (action) => (await answer<StepResult>('step', id, JSON.stringify(action))).observation.text);
  const done = await answer<StepResult>('finish', id, 'added the docstring');
  t.same([done.reward, done.terminated], [1, true], JSON.stringify(done.info));
  t.same([(await answer<EpisodeState>('state', id)).status], ['terminated']);
  const trajectory = await answer<Trajectory>('trajectory', id);
  t.same(trajectory.steps.at(-1)?.action, { tool: 'finish', arguments: { message: 'added the docstring' } });
  t.equal(trajectory.reward, 1);
  t.same(await answer<Closed>('close', id), { episode_id: id, closed: true, status: 'terminated' });
});

t.test('a no-op finish scores 0; reset takes a whole JSON body', async (t) => {
  const reset = await answer<ResetResult>('reset', '{"task":"dep_search","seed":2,"options":{"max_steps":5}}');
  t.same([reset.info.task, reset.info.max_steps], ['dep_search', 5]);
  const done = await answer<StepResult>('finish', reset.episode_id);
  t.same([done.reward, done.terminated], [0, true]);
});

t.test('tools, tasks and health', async (t) => {
  const { tools } = await answer<Tools>('tools');
  t.equal(tools.length, 4);
  t.equal((await answer<Tasks>('tasks')).instances, instances.length);
  t.same(await answer<unknown>('health'), { status: 'ok', instance: pool.owner.id });
  t.ok((await answer<ResetResult>('reset')).episode_id, 'reset with no arguments: any task');
});

t.test('an error answer goes to stderr with a failing status', async (t) => {
  const expectError = async (args: string[], code: string, env: Record<string, string> = {}) => {
    const run = await hgym(args, env);
    t.equal(run.status, 1, `hgym.sh ${args[0]} fails`);
    t.equal(run.stdout, '');
    t.equal((JSON.parse(run.stderr) as ErrorBody).code, code);
  };
  await expectError(['state', 'no-such-episode'], 'HGYM_ERR_NOT_FOUND');
  await expectError(['bash', 'no-such-episode', 'ls'], 'HGYM_ERR_NOT_FOUND');
  await expectError(['step', 'no-such-episode', '{"tool": '], 'HGYM_ERR_BAD_REQUEST');
  await expectError(['tasks'], 'HGYM_ERR_UNAUTHORIZED', { HGYM_API_KEY: '' });
  const { episode_id } = await answer<ResetResult>('reset', 'dep_search');
  await answer<StepResult>('finish', episode_id);
  await expectError(['finish', episode_id], 'HGYM_ERR_EPISODE_ENDED');
});

t.test('wrong usage and an absent server fail too', async (t) => {
  const usage = await hgym(['launch']);
  t.equal(usage.status, 2);
  t.match(usage.stderr, /^usage:\n +hgym\.sh reset/);
  t.equal((await hgym(['step', 'only-an-id'])).status, 2);
  t.equal((await hgym(['reset', 'dep_search', 'seven'])).status, 2);
  const port = await freePort();
  const absent = await hgym(['health'], { HGYM_URL: `http://127.0.0.1:${port}` });
  t.not(absent.status, 0);
  t.match(absent.stderr, /curl/);
});
