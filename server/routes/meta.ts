/** Health, readiness, and what the server offers: tools, schemas, task families, metrics, the OpenAPI document. */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { hgymError } from '../../env/errors.js';
import type { Corpus } from '../../env/corpus/load.js';
import type { SandboxPool } from '../../env/sandbox.js';
import { TOOL_DEFINITIONS } from '../../env/tools/toolbox.js';
import { SCHEMAS } from '../schemas.js';
import { HealthAnswer, ReadyAnswer, SchemasAnswer, TasksAnswer, ToolsAnswer } from '../../schemas/api.js';
import { metricsAsJson, type Metrics } from '../metrics.js';
import { MetricsAnswer } from '../../schemas/metrics.js';
import { errors } from '../openapi.js';

export interface MetaOptions {
  instanceId: string;
  corpus: Corpus;
  pool: SandboxPool | null;
  metrics: Metrics;
}

export async function metaRoutes(app: FastifyInstance, options: MetaOptions): Promise<void> {
  app.get(
    '/healthz',
    { config: { public: true }, schema: { operationId: 'getHealth', summary: 'Liveness', description: "`instance` is this server's id, the one its containers are labelled with.", tags: ['meta'], response: { 200: HealthAnswer } } },
    async () => ({ status: 'ok' as const, instance: options.instanceId }),
  );

  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        operationId: 'getReadiness',
        summary: 'Readiness',
        description: '200 once the pool makes sandboxes and the corpus has instances, with the pool\'s stats; else 503 with the problems.',
        tags: ['meta'],
        response: { 200: ReadyAnswer, 503: ReadyAnswer },
      },
    },
    async (_request, reply) => {
      const problems: string[] = [];
      if (!options.pool) problems.push('no sandbox pool is configured');
      else {
        // Busy is not unready: every sandbox leased still means the engine makes them.
        // An engine that is down does not make the server unready while another answers.
        const pool = options.pool.stats();
        const engines = Object.entries(pool.engines ?? {});
        if (engines.length > 0 && engines.every(([, e]) => !e.up)) {
          problems.push(`no container engine answers (${engines.map(([name, e]) => `${name}: ${e.down_reason ?? 'down'}`).join('; ')})`);
        } else if (pool.warm === 0 && pool.leased === 0) problems.push(`no warm sandbox yet (0 of ${pool.target}, ${pool.starting} starting)`);
      }
      if (options.corpus.instances.size === 0) problems.push(`no task instances under ${options.corpus.dir}`);
      if (problems.length > 0) return reply.status(503).send({ status: 'not ready', problems });
      return { status: 'ready' as const, pool: options.pool!.stats() };
    },
  );

  app.get(
    '/v1/tools',
    { schema: { operationId: 'listTools', summary: 'The action space', description: 'Each tool in the OpenAI function-calling shape, ready to hand to a model.', tags: ['meta'], response: { 200: ToolsAnswer } } },
    async () => ({ tools: [...TOOL_DEFINITIONS] }),
  );

  app.get('/v1/schemas', { schema: { operationId: 'listSchemas', summary: 'The JSON Schemas, by $id', tags: ['schemas'], response: { 200: SchemasAnswer } } }, async () => ({
    schemas: Object.keys(SCHEMAS).sort(),
  }));

  app.get<{ Params: { id: string } }>(
    '/v1/schemas/:id',
    {
      schema: {
        operationId: 'getSchema',
        summary: 'One JSON Schema',
        description: 'The schema whose `$id` is `id`, as plain JSON Schema (draft-07).',
        tags: ['schemas'],
        params: Type.Object({ id: Type.String({ description: 'a `$id` from GET /v1/schemas, e.g. hgym.task.func_gen' }) }),
        response: { 200: Type.Record(Type.String(), Type.Unknown(), { description: 'A JSON Schema' }), ...errors(404) },
      },
    },
    async (request) => {
      const schema = SCHEMAS[request.params.id];
      if (!schema) throw hgymError('HGYM_ERR_NOT_FOUND', `schema ${request.params.id}`);
      return schema;
    },
  );

  app.get(
    '/v1/tasks',
    {
      schema: {
        operationId: 'listTasks',
        summary: 'The task families loaded',
        description: 'Their instance counts, and the corpus directory they were read from.',
        tags: ['meta'],
        response: { 200: TasksAnswer },
      },
    },
    async () => ({
      corpus: options.corpus.dir,
      instances: options.corpus.instances.size,
      families: Object.fromEntries([...options.corpus.families].map(([family, ids]) => [family, { instances: ids.length }])),
    }),
  );

  app.get(
    '/metrics',
    {
      schema: {
        operationId: 'getMetrics',
        summary: 'Prometheus metrics',
        description: 'Episodes, resets, steps, rewards, errors and the pool, in the Prometheus text format.',
        tags: ['meta'],
        produces: ['text/plain'],
        response: { 200: { description: 'Prometheus text exposition format', type: 'string' } },
      },
    },
    async (_request, reply) => reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics()),
  );

  app.get(
    '/v1/metrics',
    {
      schema: {
        operationId: 'getMetricsJson',
        summary: 'Metrics as JSON',
        description: 'The metrics of GET /metrics, from the same registry collected the same way, as JSON: each sample named as the text format names it, with its labels.',
        tags: ['meta'],
        response: { 200: MetricsAnswer },
      },
    },
    async () => metricsAsJson(options.metrics.registry),
  );

  // The document /docs/json serves, also at a conventional address for client generators.
  app.get(
    '/openapi.json',
    {
      schema: {
        operationId: 'getOpenApiDocument',
        summary: 'This OpenAPI document',
        description: 'The same document as /docs/json; behind the API key like every route but the health checks.',
        tags: ['meta'],
        response: { 200: { description: 'An OpenAPI 3.0.3 document', type: 'object', additionalProperties: true } },
      },
    },
    async () => app.swagger(),
  );
}
