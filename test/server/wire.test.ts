/**
 * snake_case on the wire: every key of every answer a trainer can get (a real episode's reset,
 * steps, state, trajectory and close over REST and WebSocket, the trajectory log's record, the
 * meta routes, the trajectory log read back through the API, the metrics as JSON, and every kind
 * of error answer) is snake_case. JSON Schemas (a tool's `parameters`) and maps keyed by data
 * (engine and image names, family names) are exempt from the key check, not from the walk.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { DockerSandboxPool } from '../../docker/pool.js';
import { loadCorpus } from '../../env/corpus/load.js';
import { build } from '../../server/app.js';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';
import { frameClient, type Frame } from './ws-frames.js';

const SNAKE = /^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$/;

/** Subtrees whose keys are not field names: JSON Schemas, and maps keyed by data. */
const EXEMPT: [RegExp, 'schema' | 'map'][] = [
  [/\.parameters$/, 'schema'],
  [/^pool\.(environments|engines)$/, 'map'],
  [/^families$/, 'map'],
];

/** The path of every key that is not snake_case. */
function offenders(value: unknown, path = '', out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) offenders(item, `${path}[]`, out);
  } else if (typeof value === 'object' && value !== null) {
    const rule = EXEMPT.find(([pattern]) => pattern.test(path))?.[1];
    if (rule === 'schema') return out;
    for (const [key, child] of Object.entries(value)) {
      const at = path === '' ? key : `${path}.${key}`;
      if (rule !== 'map' && !SNAKE.test(key)) out.push(at);
      offenders(child, rule === 'map' ? `${path}.*` : at, out);
    }
  }
  return out;
}

function snakeOnly(t: Test, what: string, body: unknown): void {
  t.same(offenders(body), [], `${what}: every key is snake_case`);
}

t.test('the walk finds camelCase keys, however deep, and skips what is exempt', async (t) => {
  t.same(offenders({ ok: 1, statusCode: 2, info: { exec: [{ exitCode: 0, fine_key: { deeperKey: 1 } }] } }), ['statusCode', 'info.exec[].exitCode', 'info.exec[].fine_key.deeperKey']);
  t.same(offenders({ tools: [{ function: { parameters: { additionalProperties: false } } }] }), [], 'a JSON Schema');
  t.same(offenders({ pool: { engines: { 'unix:///run/docker.sock': { up: true, downReason: 'x' } } } }), ['pool.engines.*.downReason'], 'a map by engine name: its values are still walked');
});

t.test('a whole episode over REST and over WebSocket, and its record on disk', async (t) => {
  const { corpus, dir, cacheDir } = await fixtureCorpus(t);
  const pool = await DockerSandboxPool.start({ warm: 2, max: 4 });
  const trajectoryFile = join(dir, 'trajectories.jsonl');
  const app = await build({ instanceId: 'wire-test', corpus, pool, cacheDir, trajectoryFile });
  await app.ready();
  t.teardown(async () => {
    await app.close();
    await pool.close();
  });
  const answers: [string, unknown][] = [];
  const call = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown, expect = 200) => {
    const res = await app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) });
    t.equal(res.statusCode, expect, `${method} ${url} answers ${expect}`);
    answers.push([`${method} ${url}`, res.json()]);
    return res.json();
  };

  const early = await app.inject('/readyz');
  answers.push([`GET /readyz (${early.statusCode})`, early.json()]);
  await pool.waitTargets(120_000);
  for (const url of ['/healthz', '/readyz', '/v1/tasks', '/v1/tools', '/v1/schemas']) await call('GET', url);
  const { episode_id, info } = await call('POST', '/v1/episodes', { task: 'dep_search', seed: 3 }, 201);
  t.ok(info.tools.length > 0 && info.workspace, 'reset info');
  const bash = await call('POST', `/v1/episodes/${episode_id}/step`, { action: { tool: 'execute_bash', arguments: { command: 'echo hi; false' } } });
  t.same(Object.keys(bash.info.exec).sort(), ['cut_chars', 'duration_ms', 'exit_code', 'timed_out'], 'info.exec');
  t.equal(bash.info.exec.exit_code, 1);
  await call('POST', '/v1/step', { episode_id, action: { tool: 'think', arguments: { thought: 'then finish' } } });
  await call('POST', '/v1/step', { episode_id, action: { message: 'no tool call' } });
  const done = await call('POST', `/v1/episodes/${episode_id}/step`, { action: { tool: 'finish', arguments: {} } });
  t.ok(done.terminated && done.info.grade, 'graded');
  await call('GET', `/v1/episodes/${episode_id}`);
  const trajectory = await call('GET', `/v1/episodes/${episode_id}/trajectory`);
  t.same(Object.keys(trajectory.steps[0]).sort(), ['action', 'duration_ms', 'index', 'invalid', 'observation', 'started_at'], 'trajectory steps');
  await call('DELETE', `/v1/episodes/${episode_id}`);
  await call('POST', '/v1/close', { episode_id });
  // Errors of every kind a route can give.
  await call('POST', `/v1/episodes/${episode_id}/step`, { action: { message: 'late' } }, 409);
  await call('GET', '/v1/episodes/no-such-episode', undefined, 404);
  await call('POST', '/v1/episodes', { task: 7 }, 400);
  await call('GET', '/v1/nothing-here', undefined, 404);
  await call('GET', '/v1/schemas/hgym.nope', undefined, 404);
  await call('GET', '/v1/ws', undefined, 400);
  const unparsed = await app.inject({ method: 'POST', url: '/v1/episodes', headers: { 'content-type': 'application/json' }, payload: '{"task": ' });
  t.equal(unparsed.statusCode, 400, 'a body that does not parse');
  answers.push(['POST /v1/episodes (not JSON)', unparsed.json()]);
  const badUrl = await app.inject({ method: 'GET', url: '/v1/episodes/%zz' });
  t.equal(badUrl.statusCode, 400, 'a malformed URL');
  answers.push(['GET /v1/episodes/%zz', badUrl.json()]);
  for (const [what, body] of answers) snakeOnly(t, what, body);
  for (const [what, body] of answers.filter(([, b]) => (b as { code?: unknown }).code !== undefined)) {
    t.same(Object.keys(body as object).sort(), ['code', 'error', 'message', 'status_code'], `${what}: the error shape`);
  }

  const c = await frameClient(app);
  c.send({ type: 'ping', id: 'p' });
  c.send({ type: 'reset', id: 'r', task: 'dep_search', seed: 4 });
  const reset = await c.until((f) => f.id === 'r');
  c.send({ type: 'step', id: 's', episode_id: reset.episode_id, action: { tool: 'execute_bash', arguments: { command: 'echo hi' } } });
  const step = await c.until((f) => f.id === 's' && f.type === 'step_result');
  t.same(Object.keys((step.info as { exec: object }).exec).sort(), ['cut_chars', 'duration_ms', 'exit_code', 'timed_out'], 'info.exec over WebSocket');
  c.send({ type: 'step', id: 'gone', episode_id: 'no-such-episode', action: { message: 'x' } });
  c.send('{not json');
  c.send({ type: 'close', id: 'c', episode_id: reset.episode_id });
  await c.until((f) => f.id === 'c');
  const error = await c.until((f) => f.id === 'gone');
  t.same([error.type, error.status_code, error.code], ['error', 404, 'HGYM_ERR_NOT_FOUND'], 'an error frame carries the REST status');
  await c.until((f) => f.type === 'error' && f.id === null);
  const kinds = new Set(c.frames.map((f: Frame) => f.type));
  t.same([...kinds].sort(), ['closed', 'error', 'output', 'pong', 'reset_result', 'step_result'], 'every kind of server frame');
  for (const frame of c.frames) snakeOnly(t, `frame ${frame.type}`, frame);
  c.ws.terminate();

  const recorded = () => (existsSync(trajectoryFile) ? readFileSync(trajectoryFile, 'utf8') : '');
  for (let i = 0; i < 200 && !recorded().includes(String(reset.episode_id)); i++) await new Promise((r) => setTimeout(r, 25));
  const lines = recorded().trim().split('\n');
  t.equal(lines.length, 2, 'both episodes are in the trajectory log');
  for (const line of lines) {
    const record = JSON.parse(line) as { steps: object[] };
    t.same(Object.keys(record.steps[0]!).sort(), ['action', 'duration_ms', 'index', 'invalid', 'observation', 'started_at'], 'steps in the log');
    snakeOnly(t, 'the trajectory log record', record);
  }
  // The log read back through the API, and the metrics as JSON.
  const listed = (await app.inject('/v1/trajectories')).json() as { trajectories: { episode_id: string }[] };
  t.equal(listed.trajectories.length, 2, 'both listed');
  snakeOnly(t, 'GET /v1/trajectories', listed);
  snakeOnly(t, 'GET /v1/trajectories/:id', (await app.inject(`/v1/trajectories/${listed.trajectories[0]!.episode_id}`)).json());
  snakeOnly(t, 'GET /v1/metrics', (await app.inject('/v1/metrics')).json());
});

t.test('errors below the routes: no key, malformed HTTP, a request while the server closes', async (t) => {
  const app = await build({ instanceId: 'wire-test', corpus: await loadCorpus(t.testdir({})), apiKey: 's3cret' });
  let answered: () => void = () => {};
  const lateAnswered = new Promise<void>((resolve) => (answered = resolve));
  // Holds the close open until the late request below has its answer.
  app.addHook('preClose', async () => {
    await Promise.race([lateAnswered, new Promise((r) => setTimeout(r, 10_000))]);
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  t.teardown(() => app.close());

  const denied = await app.inject('/v1/tasks');
  t.equal(denied.statusCode, 401);
  snakeOnly(t, '401', denied.json());
  t.equal(denied.json().status_code, 401);

  const raw = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('NOT HTTP AT ALL\r\n\r\n'));
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer in 10 s')));
  });
  t.match(raw, /^HTTP\/1\.1 400 /, 'malformed HTTP: a 400');
  const body = JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as Record<string, unknown>;
  t.same([body.status_code, body.code], [400, 'HGYM_ERR_BAD_REQUEST']);
  snakeOnly(t, 'malformed HTTP', body);

  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const get = (path: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path, agent, headers: { authorization: 'Bearer s3cret' }, timeout: 10_000 }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end();
    });
  t.equal((await get('/v1/tasks')).status, 200, 'open: answered');
  const closing = app.close();
  const late = await get('/v1/tasks');
  answered();
  await closing;
  t.equal(late.status, 503, 'a request on a kept-alive connection while the server closes');
  const lateBody = JSON.parse(late.body) as Record<string, unknown>;
  t.same([lateBody.status_code, lateBody.code], [503, 'HGYM_ERR_SHUTTING_DOWN']);
  snakeOnly(t, 'shutting down', lateBody);
});
