/** Health, readiness, and what the server offers: tools, schemas, task families. */
import type { FastifyInstance } from 'fastify';
import { hgymError } from '../../env/errors.js';
import type { Corpus } from '../../env/corpus/load.js';
import type { SandboxPool } from '../../env/sandbox.js';
import { TOOL_DEFINITIONS } from '../../env/tools/toolbox.js';
import { SCHEMAS } from '../schemas.js';
import { HealthAnswer, ReadyAnswer, TasksAnswer, ToolsAnswer } from '../../schemas/api.js';

export interface MetaOptions {
  instanceId: string;
  corpus: Corpus;
  pool: SandboxPool | null;
}

export async function metaRoutes(app: FastifyInstance, options: MetaOptions): Promise<void> {
  app.get('/healthz', { config: { public: true }, schema: { response: { 200: HealthAnswer } } }, async () => ({ status: 'ok', instance: options.instanceId }));

  app.get('/readyz', { config: { public: true }, schema: { response: { 200: ReadyAnswer, 503: ReadyAnswer } } }, async (_request, reply) => {
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
    return { status: 'ready', pool: options.pool!.stats() };
  });

  app.get('/v1/tools', { schema: { response: { 200: ToolsAnswer } } }, async () => ({ tools: TOOL_DEFINITIONS }));

  app.get('/v1/schemas', async () => ({ schemas: Object.keys(SCHEMAS).sort() }));

  app.get<{ Params: { id: string } }>('/v1/schemas/:id', async (request) => {
    const schema = SCHEMAS[request.params.id];
    if (!schema) throw hgymError('HGYM_ERR_NOT_FOUND', `schema ${request.params.id}`);
    return schema;
  });

  app.get('/v1/tasks', { schema: { response: { 200: TasksAnswer } } }, async () => ({
    corpus: options.corpus.dir,
    instances: options.corpus.instances.size,
    families: Object.fromEntries([...options.corpus.families].map(([family, ids]) => [family, { instances: ids.length }])),
  }));
}
