/**
 * The Fastify app. `build` makes it ready without listening; only the command line listens.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { hgymError } from '../env/errors.js';
import type { Corpus } from '../env/corpus/load.js';
import type { SandboxPool } from '../env/sandbox.js';
import { installErrorHandling } from './errors.js';
import { metaRoutes } from './routes/meta.js';

export interface BuildOptions {
  /** This server's id: /healthz reports it and the pool labels containers with it. */
  instanceId: string;
  corpus: Corpus;
  pool?: SandboxPool | null;
  /** With a key, every route but the health checks needs `Authorization: Bearer <key>`. */
  apiKey?: string | undefined;
  logger?: FastifyServerOptions['logger'];
  /** Largest request body accepted, in bytes. */
  bodyLimit?: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without the API key (health checks). */
    public?: boolean;
  }
}

function keyMatches(header: string | undefined, key: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '');
  const wanted = Buffer.from(key);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

export async function build(options: BuildOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: options.bodyLimit ?? 1024 * 1024 }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app);
  if (options.apiKey) {
    const key = options.apiKey;
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config?.public) return;
      if (!keyMatches(request.headers.authorization, key)) throw hgymError('HGYM_ERR_UNAUTHORIZED');
    });
  }
  await app.register(metaRoutes, { instanceId: options.instanceId, corpus: options.corpus, pool: options.pool ?? null });
  return app;
}
