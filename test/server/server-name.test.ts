/**
 * A named server (`hgym serve --server-name`), for several servers behind a load balancer with
 * episode affinity: episode ids are `<name>.<uuid>` and every response says which server sent
 * it. No Docker: the pool hands out in-memory sandboxes; the CLI's refusals come before any.
 */
import t, { type Test } from 'tap';
import { build } from '../../server/app.js';
import { serve } from '../../bin/serve.js';
import type { PoolStats, SandboxPool } from '../../env/sandbox.js';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';
import { MemorySandbox } from '../helpers/memory-sandbox.js';

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}';

/** Episode.reset unpacks the workspace into its sandbox; these tests never read it back. */
class ArchiveSandbox extends MemorySandbox {
  override async putArchive(): Promise<void> {}
}

function memoryPool(): SandboxPool {
  const stats: PoolStats = { target: 0, warm: 0, starting: 0, leased: 0, created: 0, lost: 0, failed: 0 };
  return {
    acquire: async () => new ArchiveSandbox(),
    stats: () => stats,
    close: async () => {},
    destroy: async () => {},
    [Symbol.asyncDispose]: async () => {},
  };
}

const { corpus, cacheDir } = await fixtureCorpus(t);

async function app(t: Test, serverName?: string) {
  const server = await build({ instanceId: 'server-name-test', serverName, corpus, pool: memoryPool(), cacheDir });
  t.teardown(() => server.close());
  return server;
}

t.test('a named server: ids are <name>.<uuid>, every response names it, and the id works', async (t) => {
  // The longest name allowed: the id still fits the API's 64 characters.
  const name = 'gpu-node-07-abcdefghijk';
  t.equal(name.length, 23);
  const server = await app(t, name);
  const reset = await server.inject({ method: 'POST', url: '/v1/reset', payload: { task: 'dep_search' } });
  t.equal(reset.statusCode, 201, reset.body);
  t.equal(reset.headers['x-hgym-server'], name);
  const id = reset.json().episode_id as string;
  t.match(id, new RegExp(`^${name}\\.${UUID}$`));
  t.ok(id.length <= 64, `${id.length} characters`);

  const step = await server.inject({ method: 'POST', url: '/v1/step', payload: { episode_id: id, action: { tool: 'think', arguments: { thought: 'x' } } } });
  t.equal(step.statusCode, 200, step.body);
  t.equal(step.headers['x-hgym-server'], name);
  const byPath = await server.inject({ method: 'POST', url: `/v1/episodes/${id}/step`, payload: { action: { tool: 'think', arguments: { thought: 'y' } } } });
  t.equal(byPath.statusCode, 200, byPath.body);
  t.equal((await server.inject(`/v1/episodes/${id}`)).json().steps, 2);

  const close = await server.inject({ method: 'POST', url: '/v1/close', payload: { episode_id: id } });
  t.equal(close.statusCode, 200);
  t.same([close.json().closed, close.json().status], [true, 'closed']);

  for (const url of ['/healthz', '/v1/episodes/nope', '/no-such-route']) {
    t.equal((await server.inject(url)).headers['x-hgym-server'], name, `${url} names the server too`);
  }
});

t.test('an unnamed server: bare uuids and no header', async (t) => {
  const server = await app(t);
  const reset = await server.inject({ method: 'POST', url: '/v1/episodes', payload: { task: 'dep_search' } });
  t.equal(reset.statusCode, 201, reset.body);
  t.match(reset.json().episode_id, new RegExp(`^${UUID}$`));
  t.notOk('x-hgym-server' in reset.headers);
  t.notOk('x-hgym-server' in (await server.inject('/healthz')).headers);
  t.equal((await server.inject({ method: 'DELETE', url: `/v1/episodes/${reset.json().episode_id}` })).statusCode, 200);
});

t.test('build refuses a name that is not a short lower-case DNS label', async (t) => {
  for (const serverName of ['', 'Upper', '-lead', 'a.b', 'a'.repeat(24)]) {
    await t.rejects(build({ instanceId: 'x', serverName, corpus, pool: memoryPool(), cacheDir }), TypeError, JSON.stringify(serverName));
  }
});

t.test('hgym serve refuses a bad --server-name or HGYM_SERVER_NAME with status 2, before any Docker', async (t) => {
  const saved = process.env.HGYM_SERVER_NAME;
  t.teardown(() => {
    if (saved === undefined) delete process.env.HGYM_SERVER_NAME;
    else process.env.HGYM_SERVER_NAME = saved;
  });
  const stderr = t.capture(process.stderr, 'write');
  delete process.env.HGYM_SERVER_NAME;
  for (const bad of ['', 'Node1', 'node_1', '-node', 'n'.repeat(24)]) {
    // `=`: parseArgs itself refuses a value after a space that starts with a dash.
    t.equal(await serve([`--server-name=${bad}`, '--corpus', corpus.dir], corpus.dir), 2, JSON.stringify(bad));
  }
  process.env.HGYM_SERVER_NAME = 'Bad_Name';
  t.equal(await serve(['--corpus', corpus.dir], corpus.dir), 2, 'the environment variable is checked too');
  process.env.HGYM_SERVER_NAME = 'good';
  t.equal(await serve(['--server-name', 'Bad', '--corpus', corpus.dir], corpus.dir), 2, 'the flag wins over the environment');
  const lines = stderr().map((c) => String(c.args[0]));
  t.equal(lines.length, 7);
  t.match(lines[5], /HGYM_SERVER_NAME/);
  t.match(lines[6], /--server-name/);
  t.ok(lines.every((l) => l.includes('usage: hgym serve')));
});
