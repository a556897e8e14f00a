/** `hgym serve`: the HTTP API on a corpus, with a warm pool of sandboxes. */
import { parseArgs } from 'node:util';
import { v4 as uuidv4 } from 'uuid';
import { basesDir, corpusStages, loadCorpus, writeCorpusBases } from '../env/corpus/load.js';
import { DockerEngine, engineHosts } from '../docker/engine.js';
import { environmentImages, environmentShares } from '../env/corpus/environment.js';
import { DockerSandboxPool } from '../docker/pool.js';
import { build, SERVER_NAME } from '../server/app.js';

export const SERVE_USAGE = 'usage: hgym serve [--host 127.0.0.1] [--port 8000] [--corpus DIR] [--pool N] [--max-episodes N] [--max-ended N] [--trajectories FILE] [--docker-host URL ...] [--server-name NAME]';

export async function serve(argv: string[], defaultCorpus: string): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: process.env.HGYM_HOST ?? '127.0.0.1' },
      port: { type: 'string', default: process.env.HGYM_PORT ?? '8000' },
      corpus: { type: 'string', default: defaultCorpus },
      pool: { type: 'string', default: '4' },
      'max-episodes': { type: 'string', default: '64' },
      'max-ended': { type: 'string', default: '1000' },
      trajectories: { type: 'string' },
      'docker-host': { type: 'string', multiple: true, default: [] },
      'server-name': { type: 'string' },
    },
    strict: true,
  });
  const port = Number(values.port);
  const warm = Number(values.pool);
  const maxEpisodes = Number(values['max-episodes']);
  const maxEnded = Number(values['max-ended']);
  if (![port, warm, maxEpisodes, maxEnded].every(Number.isInteger) || maxEpisodes < 1 || maxEnded < 0) {
    process.stderr.write(`${SERVE_USAGE}\n`);
    return 2;
  }
  // An empty HGYM_SERVER_NAME is no name; an empty --server-name is a mistake.
  const serverName = values['server-name'] ?? (process.env.HGYM_SERVER_NAME || undefined);
  if (serverName !== undefined && !SERVER_NAME.test(serverName)) {
    const from = values['server-name'] !== undefined ? '--server-name' : 'HGYM_SERVER_NAME';
    process.stderr.write(`hgym: ${from} must be a lower-case DNS label of 1 to 23 characters (a-z, 0-9, '-', not starting with '-'), not ${JSON.stringify(serverName)}\n${SERVE_USAGE}\n`);
    return 2;
  }
  const instanceId = uuidv4();
  const corpus = await loadCorpus(values.corpus);
  // Every engine gets its own warm sandboxes and capacity. Images are built on the local engine
  // (setup), which is where an engine that lacks one gets it from.
  const engines = engineHosts(values['docker-host']).map((host) => new DockerEngine(host));
  const images = environmentImages(corpus.instances.values());
  // Before the pool starts: its sandboxes hold the bases there when they start. HGYM_BASES=0
  // turns them off (an engine that cannot mount a folder of this host: resets send everything).
  const bases = process.env.HGYM_BASES === '0' ? undefined : basesDir(corpus);
  if (bases !== undefined) {
    await writeCorpusBases(corpus, bases, (repo, err) => process.stderr.write(`hgym: the base of ${repo} could not be written (its resets send the whole workspace): ${err.message}\n`));
  }
  const pool = await DockerSandboxPool.start({
    engines,
    imageSource: DockerEngine.local(),
    images,
    shares: environmentShares(corpus.instances.values()),
    warm,
    max: maxEpisodes + warm,
    ownerId: instanceId,
    // Warm sandboxes of an environment that serves one snapshot lay out its work tree ahead.
    ...(bases === undefined ? {} : { bases, stages: await corpusStages(corpus) }),
  });
  const app = await build({
    instanceId,
    serverName,
    corpus,
    pool,
    maxEpisodes,
    maxEnded,
    warmWorkspaces: true,
    trajectoryFile: values.trajectories,
    apiKey: process.env.HGYM_API_KEY,
    logger: { level: process.env.HGYM_LOG_LEVEL ?? 'info' },
  });
  let stopping: Promise<void> | null = null;
  const stop = (signal: string): Promise<void> =>
    (stopping ??= (async () => {
      app.log.info({ signal }, 'shutting down: closing episodes and sandboxes');
      await app.close();
      await pool.close();
    })());
  const done = new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void stop(signal).then(resolve));
  });
  await app.listen({ host: values.host, port });
  app.log.info({ instance: instanceId, ...(serverName ? { server_name: serverName } : {}), corpus: corpus.dir, instances: corpus.instances.size }, 'hgym is serving');
  await done;
  return 0;
}
