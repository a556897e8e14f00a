/**
 * The server under benchmark, in its own process (so its RSS is its own): builds the app on
 * the default corpus with a pool, listens on a free loopback port, and prints
 * `{"port": N, "pid": N}` once ready. Ends on SIGTERM, closing episodes and sandboxes.
 */
import { join } from 'node:path';
import { v4 as uuidv4 } from 'uuid';
import { basesDir, corpusStages, loadCorpus, writeCorpusBases } from '../env/corpus/load.js';
import { DockerSandboxPool } from '../docker/pool.js';
import { environmentImages, environmentShares } from '../env/corpus/environment.js';
import { build } from '../server/app.js';

const warm = Number(process.argv[2] ?? 8);
const maxEpisodes = Number(process.argv[3] ?? 72);
const dir = process.env.HGYM_CORPUS_DIR ?? join(import.meta.dirname, '..', '.hgym', 'corpus');
const instanceId = uuidv4();
const corpus = await loadCorpus(dir);
// As `hgym serve` starts it: the corpus's environment images present, workspaces warmed.
const images = environmentImages(corpus.instances.values());
const bases = basesDir(corpus);
await writeCorpusBases(corpus, bases);
const pool = await DockerSandboxPool.start({ warm, max: maxEpisodes + warm, ownerId: instanceId, images, shares: environmentShares(corpus.instances.values()), bases, stages: await corpusStages(corpus) });
// Long episodes: the benchmark steps one episode hundreds of times.
// HGYM_BENCH_CACHE_DIR: prepared workspaces go there (a fresh directory measures a cold cache).
const cacheDir = process.env.HGYM_BENCH_CACHE_DIR || undefined;
const app = await build({ instanceId, corpus, pool, maxEpisodes, cacheDir, warmWorkspaces: true, limits: { maxSteps: 1_000_000 } });
await app.listen({ host: '127.0.0.1', port: 0 });
await pool.waitTargets(600_000);
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0, pid: process.pid })}\n`);
process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => pool.close())
    .then(() => process.exit(0));
});
