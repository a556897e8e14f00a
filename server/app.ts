/**
 * The Fastify app. `build` makes it ready without listening; only the command line listens.
 */
import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { hgymError } from '../env/errors.js';
import type { Corpus } from '../env/corpus/load.js';
import { warmSnapshot } from '../env/corpus/workspace.js';
import type { SandboxPool } from '../env/sandbox.js';
import { join } from 'node:path';
import { DEFAULT_EPISODE_LIMITS, type EpisodeLimits } from '../env/episode.js';
import { EpisodeService } from './episodes.js';
import { errorOptions, errorReporter, installErrorHandling, installJsonParser } from './errors.js';
import { createMetrics } from './metrics.js';
import { addSharedSchemas, swaggerOptions } from './openapi.js';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import { episodeRoutes } from './routes/episodes.js';
import { chooseProtocol, keyFromProtocols, wsRoutes } from './routes/ws.js';
import { uiRoutes } from './routes/ui.js';
import { metaRoutes } from './routes/meta.js';
import { trajectoryRoutes } from './routes/trajectories.js';

/** A server name: a lower-case DNS label of at most 23 characters, so `<name>.<uuid>` fits an episode id's 64. */
export const SERVER_NAME = /^[a-z0-9][a-z0-9-]{0,22}$/;

export interface BuildOptions {
  /** This server's id: /healthz reports it and the pool labels containers with it. */
  instanceId: string;
  /**
   * This server's name among several behind a load balancer (matches SERVER_NAME): episode ids
   * are `<name>.<uuid>` and every response carries `x-hgym-server: <name>`, for episode affinity.
   */
  serverName?: string | undefined;
  corpus: Corpus;
  pool?: SandboxPool | null;
  /** With a key, every route but the health checks needs `Authorization: Bearer <key>`. */
  apiKey?: string | undefined;
  logger?: FastifyServerOptions['logger'];
  /** Largest request body accepted, in bytes. */
  bodyLimit?: number;
  /** Where prepared workspaces are cached (default: <corpus>/cache/workspaces). */
  cacheDir?: string;
  /**
   * Prepare every served snapshot's workspace parts in the background at start, so that the
   * first reset of a large repository does not pay for them (`hgym serve` does).
   */
  warmWorkspaces?: boolean;
  limits?: Partial<EpisodeLimits>;
  maxEpisodes?: number;
  /** Where ended episodes are recorded (default: <corpus>/trajectories/trajectories.jsonl). */
  trajectoryFile?: string;
  /** Reaper: idle limit (10 min), episode age limit (1 h), how long ended episodes stay queryable (30 min), and how often it runs (10 s). */
  idleTimeoutMs?: number;
  maxEpisodeMs?: number;
  retainMs?: number;
  reapIntervalMs?: number;
  /** Most ended episodes kept queryable (1,000); past it the longest-ended is forgotten first. */
  maxEnded?: number;
  /** How long a dropped WebSocket's episodes wait before they are closed (30 s). */
  wsGraceMs?: number;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Reachable without the API key (health checks). */
    public?: boolean;
  }
}

function keyMatches(given: string | undefined, key: string): boolean {
  const a = Buffer.from(given ?? '');
  const b = Buffer.from(key);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The key a request presents: its bearer header, or a WebSocket upgrade's key subprotocol (browsers can send no header there). */
function presentedKey(request: FastifyRequest): string | undefined {
  const bearer = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (bearer !== undefined || !request.headers.upgrade) return bearer;
  return keyFromProtocols(request.headers['sec-websocket-protocol']);
}

export async function build(options: BuildOptions): Promise<FastifyInstance> {
  if (options.serverName !== undefined && !SERVER_NAME.test(options.serverName)) {
    throw new TypeError(`serverName must match ${SERVER_NAME.source}, not ${JSON.stringify(options.serverName)}`);
  }
  let episodes: EpisodeService | null = null;
  const metrics = createMetrics(options.pool ?? null, () => episodes?.runningByTask() ?? new Map());
  const report = errorReporter((code) => metrics.errorsTotal.inc({ code }));
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 1024 * 1024,
    // Bodies are validated as sent: no type coercion, no silently dropped fields.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, useDefaults: false } },
    ...errorOptions(report),
  }).withTypeProvider<TypeBoxTypeProvider>();
  installErrorHandling(app, report);
  installJsonParser(app);
  if (options.apiKey) {
    const key = options.apiKey;
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config?.public) return;
      if (!keyMatches(presentedKey(request), key)) throw hgymError('HGYM_ERR_UNAUTHORIZED');
    });
  }
  if (options.serverName) {
    const name = options.serverName;
    app.addHook('onSend', async (_request, reply) => {
      reply.header('x-hgym-server', name);
    });
  }
  // A refused WebSocket upgrade ends its connection: nothing else can follow on it, and a
  // connection left open would keep the client waiting and the server from closing.
  app.addHook('onSend', async (request, reply) => {
    if (request.headers.upgrade && reply.statusCode >= 400) reply.header('connection', 'close');
  });
  app.addHook('onResponse', async (request, reply) => {
    if (request.headers.upgrade && reply.statusCode >= 400) request.raw.socket.destroySoon();
  });
  // The OpenAPI document is generated from the routes' schemas (the same as validate them).
  addSharedSchemas(app);
  await app.register(swagger, swaggerOptions(options.apiKey));
  await app.register(swaggerUi, { routePrefix: '/docs' });
  await app.register(metaRoutes, { instanceId: options.instanceId, corpus: options.corpus, pool: options.pool ?? null, metrics });
  await app.register(uiRoutes);
  const trajectoryFile = options.trajectoryFile ?? join(options.corpus.dir, 'trajectories', 'trajectories.jsonl');
  if (options.pool) {
    const manager = new EpisodeService({
      corpus: options.corpus,
      pool: options.pool,
      cacheDir: options.cacheDir ?? join(options.corpus.dir, 'cache', 'workspaces'),
      limits: { ...DEFAULT_EPISODE_LIMITS, ...options.limits },
      maxEpisodes: options.maxEpisodes ?? 64,
      trajectoryFile,
      log: app.log,
      metrics,
      idleTimeoutMs: options.idleTimeoutMs ?? 10 * 60_000,
      maxEpisodeMs: options.maxEpisodeMs ?? 60 * 60_000,
      retainMs: options.retainMs ?? 30 * 60_000,
      maxEnded: options.maxEnded ?? 1_000,
      serverName: options.serverName,
    });
    episodes = manager;
    if (options.warmWorkspaces) void warmCorpusSnapshots(options.corpus, app.log);
    await app.register(episodeRoutes, { episodes: manager });
    await app.register(websocket, { options: { maxPayload: options.bodyLimit ?? 1024 * 1024, handleProtocols: chooseProtocol } });
    await app.register(wsRoutes, { episodes: manager, graceMs: options.wsGraceMs ?? 30_000, report });
    const reaper = setInterval(() => {
      manager.reap(Date.now()).then(
        ({ closed }) => closed.length > 0 && app.log.info({ episodes: closed }, 'closed idle or expired episodes'),
        (err: unknown) => app.log.error({ err }, 'reaping episodes failed'),
      );
    }, options.reapIntervalMs ?? 10_000);
    reaper.unref();
    // Graceful: every episode's sandbox is released, and its trajectory written, before the server is gone.
    app.addHook('onClose', async () => {
      clearInterval(reaper);
      await manager.shutdown();
    });
  }
  // The log outlives the service: ended episodes stay browsable on a server without a pool.
  await app.register(trajectoryRoutes, { trajectoryFile, episodes });
  return app;
}

/** Each snapshot the corpus serves, one after another: a background task that never fails the server. */
async function warmCorpusSnapshots(corpus: Corpus, log: FastifyBaseLogger): Promise<void> {
  const seen = new Set<string>();
  for (const instance of corpus.instances.values()) {
    const key = instance.repo.dir ?? instance.repo.name;
    if (seen.has(key)) continue;
    seen.add(key);
    try {
      await warmSnapshot(await corpus.snapshot(instance));
    } catch (err) {
      log.warn({ repo: key, err: (err as Error).message }, 'preparing a snapshot ahead of its first reset failed');
    }
  }
}
