/**
 * The TypeScript client against a listening server with real sandboxes (and an API key):
 * whole episodes over REST and over one WebSocket, coded errors, streamed output.
 */
import t, { type Test } from 'tap';
import { HgymApiError, HgymClient, HgymConnectionError, HgymSocket, toolCall, type EpisodeTransport, type OutputChunk } from '../../clients/ts/index.js';
import type { DepSearchInstance, FuncLocalizeInstance } from '../../schemas/tasks.js';
import { applyFuncLocalizeGoldThroughSteps } from '../helpers/api-gold.js';
import { freePort, liveServer } from './ts-live-server.js';

const apiKey = 'client-test-key';
const { url, instances, pool, app } = await liveServer(t, { apiKey, wsGraceMs: 200 });
const client = new HgymClient({ url, apiKey });
const funcLocalize = instances.find((i): i is FuncLocalizeInstance => i.task === 'func_localize')!;
const depSearch = instances.find((i): i is DepSearchInstance => i.task === 'dep_search')!;

/** The func_localize gold answer, applied through whichever transport, then finish. */
async function goldEpisode(transport: EpisodeTransport) {
  const reset = await transport.reset({ instance_id: funcLocalize.instance_id });
  const step = async (action: Parameters<EpisodeTransport['step']>[1]) => (await transport.step(reset.episode_id, action)).observation.text;
  await applyFuncLocalizeGoldThroughSteps(funcLocalize, String(reset.info.workspace), step);
  return { episodeId: reset.episode_id, done: await transport.step(reset.episode_id, toolCall('finish', { message: 'documented' })) };
}

async function rejectsWith(t: Test, promise: Promise<unknown>, code: string, statusCode: number): Promise<void> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(err instanceof HgymApiError, `an HgymApiError (${String(err)})`);
  t.same([(err as HgymApiError).code, (err as HgymApiError).statusCode], [code, statusCode]);
}

t.test('health, readiness, tools and tasks', async (t) => {
  t.same(await client.health(), { status: 'ok', instance: pool.owner.id });
  t.match((await client.ready()).status, /^(ready|not ready)$/);
  const { tools } = await client.tools();
  t.same(
    tools.map((tool) => (tool.function as { name: string }).name),
    ['execute_bash', 'str_replace_editor', 'think', 'finish'],
  );
  const tasks = await client.tasks();
  t.ok((tasks.families.func_localize?.instances ?? 0) > 0);
  t.equal(tasks.instances, instances.length);
});

t.test('a whole func_localize episode over REST: the gold answer scores 1', async (t) => {
  const { episodeId, done } = await goldEpisode(client);
  t.same([done.reward, done.terminated, done.truncated], [1, true, false], JSON.stringify(done.info));
  const state = await client.state(episodeId);
  t.same([state.status, state.reward, state.instance_id], ['terminated', 1, funcLocalize.instance_id]);
  const trajectory = await client.trajectory(episodeId);
  t.equal(trajectory.steps.length, state.steps);
  t.same(trajectory.steps.at(-1)?.action, { tool: 'finish', arguments: { message: 'documented' } });
  t.equal(trajectory.reward, 1);
  await rejectsWith(t, client.step(episodeId, { message: 'one more' }), 'HGYM_ERR_EPISODE_ENDED', 409);
  t.same(await client.close(episodeId), { episode_id: episodeId, closed: true, status: 'terminated' });
  t.same(await client.close(episodeId), { episode_id: episodeId, closed: true, status: 'terminated' }, 'closing twice is fine');
});

t.test('a no-op finish over REST scores 0', async (t) => {
  const reset = await client.reset({ instance_id: depSearch.instance_id });
  t.equal(reset.info.task, 'dep_search');
  t.ok(reset.observation.text.length > 0, 'the instruction');
  const done = await client.step(reset.episode_id, toolCall('finish', {}));
  t.same([done.reward, done.terminated], [0, true]);
});

t.test('REST errors carry the server code and status', async (t) => {
  await rejectsWith(t, client.state('no-such-episode'), 'HGYM_ERR_NOT_FOUND', 404);
  await rejectsWith(t, client.step('no-such-episode', { message: 'hi' }), 'HGYM_ERR_NOT_FOUND', 404);
  await rejectsWith(t, client.reset({ seed: -1 }), 'HGYM_ERR_BAD_REQUEST', 400);
  await rejectsWith(t, new HgymClient({ url }).tasks(), 'HGYM_ERR_UNAUTHORIZED', 401);
  await rejectsWith(t, new HgymClient({ url, apiKey: 'wrong' }).tasks(), 'HGYM_ERR_UNAUTHORIZED', 401);
  t.same(await new HgymClient({ url }).health(), { status: 'ok', instance: pool.owner.id }, 'health needs no key');
});

t.test('calls in a row reuse one connection; calls at once each get their own answer', async (t) => {
  let connections = 0;
  const count = () => connections++;
  app.server.on('connection', count);
  t.teardown(() => void app.server.off('connection', count));
  const fresh = new HgymClient({ url, apiKey });
  for (let i = 0; i < 20; i++) t.equal((await fresh.health()).status, 'ok');
  t.equal(connections, 1, 'twenty calls in a row over one kept-alive connection');
  const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => fresh.state(`no-such-${i}`).catch((e: HgymApiError) => e.message)));
  t.same(answers.map((m) => /no-such-(\d)/.exec(String(m))?.[1]), ['0', '1', '2', '3', '4', '5', '6', '7'], 'each call its own answer');
});

t.test('no server, or no answer in time, is a connection error', async (t) => {
  const port = await freePort();
  const err = await new HgymClient({ url: `http://127.0.0.1:${port}` }).health().catch((e: unknown) => e);
  t.ok(err instanceof HgymConnectionError, String(err));
  const refused = await HgymSocket.connect({ url: `http://127.0.0.1:${port}` }).catch((e: unknown) => e);
  t.ok(refused instanceof HgymConnectionError, String(refused));

  const { episode_id } = await client.reset({ task: 'dep_search' });
  const impatient = new HgymClient({ url, apiKey, timeoutMs: 300 });
  const late = await impatient.step(episode_id, toolCall('execute_bash', { command: 'sleep 2' })).catch((e: unknown) => e);
  t.ok(late instanceof HgymConnectionError, String(late));
  t.match((late as Error).message, /no answer within 300 ms/);
  // The server runs the step to its end all the same. Wait for it before closing: closing
  // the episode under an abandoned request has been seen to hold the server's shutdown
  // for its keep-alive timeout (72 s).
  for (let i = 0; i < 100 && (await client.state(episode_id)).steps < 1; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal((await client.state(episode_id)).steps, 1, 'the abandoned step still ran');
  await client.close(episode_id);
});

t.test('a whole func_localize episode over WebSocket: the gold answer scores 1', async (t) => {
  await using socket = await HgymSocket.connect({ url, apiKey });
  const { episodeId, done } = await goldEpisode(socket);
  t.same([done.reward, done.terminated], [1, true], JSON.stringify(done.info));
  await rejectsWith(t, socket.step(episodeId, { message: 'more' }), 'HGYM_ERR_EPISODE_ENDED', 409);
  t.same(await socket.close(episodeId), { episode_id: episodeId, closed: true, status: 'terminated' });
  t.equal((await client.state(episodeId)).reward, 1, 'the same episode seen over REST');
});

t.test('output streams to the callbacks before the step resolves', async (t) => {
  const all: OutputChunk[] = [];
  await using socket = await HgymSocket.connect({ url, apiKey, onOutput: (chunk) => all.push(chunk) });
  const { episode_id } = await socket.reset({ instance_id: depSearch.instance_id });
  const mine: { chunk: OutputChunk; at: number }[] = [];
  const result = await socket.step(episode_id, toolCall('execute_bash', { command: 'echo first; sleep 0.5; echo second >&2' }), {
    onOutput: (chunk) => mine.push({ chunk, at: performance.now() }),
  });
  const resolvedAt = performance.now();
  t.same(
    mine.map(({ chunk }) => [chunk.stream, chunk.data]),
    [
      ['stdout', 'first\n'],
      ['stderr', 'second\n'],
    ],
  );
  t.ok(resolvedAt - mine[0]!.at >= 300, 'the first chunk came while the command still ran');
  t.same(all, mine.map(({ chunk }) => chunk), 'the socket-wide callback saw the same chunks');
  t.match(result.observation.text, /first\nsecond/);

  const failing = socket.step(episode_id, toolCall('execute_bash', { command: 'echo boom' }), {
    onOutput: () => {
      throw new Error('callback failed');
    },
  });
  await t.rejects(failing, { message: 'callback failed' }, 'a throwing callback fails its own step');
  await socket.ping();
  await socket.close(episode_id);
});

t.test('several episodes at once over one socket', async (t) => {
  await using socket = await HgymSocket.connect({ url, apiKey });
  const resets = await Promise.all([1, 2, 3].map((seed) => socket.reset({ task: 'dep_search', seed })));
  t.equal(new Set(resets.map((r) => r.episode_id)).size, 3);
  const chunks = new Map<string, string>();
  const results = await Promise.all(
    resets.map((r, n) =>
      socket.step(r.episode_id, toolCall('execute_bash', { command: `echo start-${n}; sleep 0.3; echo end-${n}` }), {
        onOutput: (chunk) => chunks.set(chunk.episode_id, (chunks.get(chunk.episode_id) ?? '') + chunk.data),
      }),
    ),
  );
  results.forEach((result, n) => {
    t.equal(result.episode_id, resets[n]!.episode_id);
    t.match(result.observation.text, new RegExp(`^start-${n}\\nend-${n}\\n`));
    t.equal(chunks.get(result.episode_id), `start-${n}\nend-${n}\n`, 'each episode got its own output');
  });
  const closed = await Promise.all(resets.map((r) => socket.close(r.episode_id)));
  t.same(
    closed.map((c) => c.closed),
    [true, true, true],
  );
});

t.test('WebSocket errors carry the code and the status it has over REST', async (t) => {
  await using socket = await HgymSocket.connect({ url, apiKey });
  await rejectsWith(t, socket.step('no-such-episode', { message: 'hi' }), 'HGYM_ERR_NOT_FOUND', 404);
  await rejectsWith(t, socket.reset({ instance_id: 'no-such-instance' }), 'HGYM_ERR_NOT_FOUND', 404);
});

t.test('a refused upgrade rejects connect with the coded error', async (t) => {
  await rejectsWith(t, HgymSocket.connect({ url }), 'HGYM_ERR_UNAUTHORIZED', 401);
  await rejectsWith(t, HgymSocket.connect({ url, apiKey: 'wrong' }), 'HGYM_ERR_UNAUTHORIZED', 401);
});

t.test('a dropped socket rejects what still waits, and refuses new requests', async (t) => {
  const socket = await HgymSocket.connect({ url, apiKey });
  const { episode_id } = await socket.reset({ task: 'dep_search' });
  const running = socket.step(episode_id, toolCall('execute_bash', { command: 'sleep 3' }));
  const outcome = running.catch((e: unknown) => e);
  await socket.disconnect();
  t.ok((await outcome) instanceof HgymConnectionError, 'the waiting step rejects');
  await t.rejects(socket.ping(), HgymConnectionError);
  await socket.disconnect();
  await client.close(episode_id);
});
