import { join } from 'node:path';
import t, { type Test } from 'tap';
import { build } from '../../server/app.js';
import { loadCorpus } from '../../env/corpus/load.js';
import { generateForRepo, writeInstances, FAMILIES } from '../../env/tasks/generate.js';
import { idlePool } from '../helpers/idle-pool.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'shapes');

async function corpusDir(t: Test): Promise<string> {
  const dir = t.testdir({});
  const { instances } = await generateForRepo({ root: FIXTURE, name: 'shapes' }, { seed: 1 });
  await writeInstances(join(dir, 'tasks'), instances, FAMILIES);
  return dir;
}

t.test('health, readiness, tools, schemas, tasks', async (t) => {
  const corpus = await loadCorpus(await corpusDir(t));
  const app = await build({ instanceId: 'test-instance', corpus, pool: idlePool(1) });
  t.teardown(() => app.close());

  const health = await app.inject('/healthz');
  t.same(health.json(), { status: 'ok', instance: 'test-instance' });

  const ready = await app.inject('/readyz');
  t.equal(ready.statusCode, 200);
  t.match(ready.json().pool, { target: 2, warm: 1 }, 'warm sandboxes against the target');

  const tools = await app.inject('/v1/tools');
  t.same(tools.json().tools.map((x: { function: { name: string } }) => x.function.name), ['execute_bash', 'str_replace_editor', 'think', 'finish']);

  const schemas = (await app.inject('/v1/schemas')).json().schemas as string[];
  t.ok(schemas.includes('hgym.task.func_localize') && schemas.includes('hgym.tool.execute_bash'));
  const one = await app.inject('/v1/schemas/hgym.task.dep_search');
  t.equal(one.json().$id, 'hgym.task.dep_search');
  const missing = await app.inject('/v1/schemas/nope');
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().code, 'HGYM_ERR_NOT_FOUND');

  const tasks = (await app.inject('/v1/tasks')).json();
  t.equal(tasks.corpus, corpus.dir);
  t.equal(tasks.families.func_localize.instances, corpus.families.get('func_localize')!.length);
  t.equal(tasks.families.dep_search.instances, corpus.families.get('dep_search')!.length);
});

t.test('readiness says why it is not ready', async (t) => {
  const corpus = await loadCorpus(t.testdir({}));
  const app = await build({ instanceId: 'x', corpus, pool: idlePool(0) });
  t.teardown(() => app.close());
  const ready = await app.inject('/readyz');
  t.equal(ready.statusCode, 503);
  t.match(ready.json().problems.join(' '), /no warm sandbox[\s\S]*no task instances/);
});

t.test('busy is not unready: every sandbox leased, none warm, is still ready', async (t) => {
  const app = await build({ instanceId: 'x', corpus: await loadCorpus(await corpusDir(t)), pool: idlePool(0, 4) });
  t.teardown(() => app.close());
  const ready = await app.inject('/readyz');
  t.equal(ready.statusCode, 200);
  t.match(ready.json().pool, { warm: 0, leased: 4, target: 2 });
});

t.test('unknown routes get a coded 404', async (t) => {
  const app = await build({ instanceId: 'x', corpus: await loadCorpus(t.testdir({})) });
  t.teardown(() => app.close());
  const res = await app.inject('/v2/nothing');
  t.equal(res.statusCode, 404);
  t.same(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'status_code']);
  t.equal(res.json().code, 'HGYM_ERR_NOT_FOUND');
});

t.test('with an API key every route but the health checks needs the bearer token', async (t) => {
  const app = await build({ instanceId: 'x', corpus: await loadCorpus(t.testdir({})), pool: idlePool(1), apiKey: 's3cret' });
  t.teardown(() => app.close());
  t.equal((await app.inject('/healthz')).statusCode, 200);
  t.not((await app.inject('/readyz')).statusCode, 401);
  const denied = await app.inject('/v1/tools');
  t.equal(denied.statusCode, 401);
  t.equal(denied.json().code, 'HGYM_ERR_UNAUTHORIZED');
  t.equal((await app.inject({ url: '/v1/tools', headers: { authorization: 'Bearer wrong' } })).statusCode, 401);
  t.equal((await app.inject({ url: '/v1/tools', headers: { authorization: 'Bearer s3cret' } })).statusCode, 200);
});

t.test('an OpenAPI document generated from the route schemas, and a page for it', async (t) => {
  const corpus = await loadCorpus(t.testdir({}));
  const pool = idlePool(1);
  const app = await build({ instanceId: 'x', corpus, pool });
  t.teardown(() => app.close());
  const doc = (await app.inject('/docs/json')).json();
  t.match(doc.openapi, /^3\./);
  for (const path of ['/v1/episodes', '/v1/episodes/{id}/step', '/v1/reset', '/v1/step', '/v1/close', '/v1/tools']) t.ok(doc.paths[path], path);
  const ref = doc.paths['/v1/episodes'].post.requestBody.content['application/json'].schema.$ref as string;
  const resetBody = doc.components.schemas[ref.replace('#/components/schemas/', '')];
  t.ok(resetBody.properties.seed && resetBody.properties.instance_id, 'the reset body schema is the one that validates');
  const page = await app.inject('/docs/');
  t.equal(page.statusCode, 200);
  t.match(page.headers['content-type'], /html/);
});

t.test('every registered error code leaves the server with its status and the error shape', async (t) => {
  const { ERRORS, HgymError } = await import('../../env/errors.js');
  const app = await build({ instanceId: 'x', corpus: await loadCorpus(t.testdir({})) });
  app.get<{ Params: { code: string } }>('/throw/:code', async (request) => {
    throw new HgymError(request.params.code as keyof typeof ERRORS, ['for the test']);
  });
  t.teardown(() => app.close());
  for (const [code, spec] of Object.entries(ERRORS)) {
    const res = await app.inject(`/throw/${code}`);
    t.equal(res.statusCode, spec.status, code);
    t.same(Object.keys(res.json()).sort(), ['code', 'error', 'message', 'status_code']);
    t.same([res.json().code, res.json().status_code], [code, spec.status]);
    if (code === 'HGYM_ERR_CAPACITY') t.ok(res.headers['retry-after'], 'capacity answers carry Retry-After');
  }
});
