/**
 * Repository environments benchmark. Prints one JSON object:
 * - per fixture (test/fixtures/tasks/ledger and slugs, whose tests need pip packages): the
 *   environment's build from nothing (its image removed first): pip's resolve and download on
 *   the host, then the image build; the image's size and what it adds to the sandbox image;
 * - reset_warm: Episode.reset of an instance of a repository with an environment, from a pool
 *   holding a warm sandbox of that environment (the pool is given time to refill between
 *   resets, as between a trainer's batches); target p50 ≤ 150 ms;
 * - reset_cold: the same resets from a pool that keeps no warm sandbox of any environment, so
 *   each reset starts one.
 * pip uses the host's configuration: on a machine whose only index is a local mirror, set
 * PIP_INDEX_URL to it.
 * Usage: node --import tsx bench/environments.ts [--resets N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { generate } from '../bin/generate.js';
import { DEFAULT_IMAGE, DockerSandboxPool, type DockerPoolOptions } from '../docker/pool.js';
import { environmentBuilder, imagePython } from '../docker/environment-image.js';
import { detectDependencies } from '../env/corpus/dependencies.js';
import { environmentImage, prepareEnvironment } from '../env/corpus/environment.js';
import { loadCorpus } from '../env/corpus/load.js';
import type { Snapshot } from '../env/corpus/snapshot.js';
import { Episode } from '../env/episode.js';
import type { TaskInstance } from '../schemas/tasks.js';
import { numberArg, percentile, round, timeIt } from './stats.js';

const RESETS = numberArg('resets', 20);
const FIXTURES = join(import.meta.dirname, '..', 'test', 'fixtures', 'tasks');
const docker = new Docker();
const work = mkdtempSync(join(tmpdir(), 'hgym-bench-env-'));

async function removeImage(image: string): Promise<void> {
  try {
    await docker.getImage(image).remove({ force: true });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 404) throw err;
  }
}

async function buildFromNothing(name: string) {
  const target = await imagePython(DEFAULT_IMAGE);
  const root = join(FIXTURES, name);
  const options = { base: target.imageId, target, workRoot: join(work, 'pip'), build: environmentBuilder(docker) };
  // Resolve once to learn the image's name, remove it, then time the whole build.
  const first = await prepareEnvironment(root, options);
  if (!('environment' in first) || !first.environment) throw new Error(`${name}: ${JSON.stringify(first)}`);
  await removeImage(first.environment.image);
  const started = performance.now();
  const again = await prepareEnvironment(root, options);
  const totalMs = performance.now() - started;
  if (!('environment' in again) || !again.environment) throw new Error(`${name}: ${JSON.stringify(again)}`);
  const base = (await docker.getImage(DEFAULT_IMAGE).inspect()) as { Size: number };
  return {
    requirements: (await detectDependencies(root)).requirements,
    resolved: again.environment.resolved.map((d) => `${d.name}==${d.version}`),
    build_ms: round(totalMs, 1),
    pip_ms: again.environment.resolveMs,
    image_build_ms: again.environment.buildMs,
    image_bytes: again.environment.size,
    added_bytes: again.environment.size - base.Size,
  };
}

async function resets(pool: DockerSandboxPool, instance: TaskInstance, snapshot: Snapshot, warm: boolean): Promise<number[]> {
  const image = environmentImage(instance.repo.environment!);
  const samples: number[] = [];
  for (let i = 0; i < RESETS; i++) {
    if (warm && i > 0) await pool.waitWarm(1, 60_000, image);
    let episode: Episode | undefined;
    const ms = await timeIt(async () => {
      episode = await Episode.reset({ instance, snapshot, pool, cacheDir: join(work, 'workspaces') });
    });
    await episode!.close();
    // The first reset makes the demand that warms the environment (and prepares the workspace, cached after).
    if (!warm || i > 0) samples.push(ms);
  }
  return samples;
}

async function withPool<T>(options: DockerPoolOptions, run: (pool: DockerSandboxPool) => Promise<T>): Promise<T> {
  const pool = await DockerSandboxPool.start(options);
  try {
    return await run(pool);
  } finally {
    await pool.close();
  }
}

async function main(): Promise<void> {
  const fixtures = { ledger: await buildFromNothing('ledger'), slugs: await buildFromNothing('slugs') };

  const corpusDir = join(work, 'corpus');
  const status = await generate(['--repo', join(FIXTURES, 'ledger'), '--corpus', corpusDir, '--tasks', 'func_localize'], () => undefined);
  if (status !== 0) throw new Error(`generate exited ${status}`);
  const corpus = await loadCorpus(corpusDir);
  const instance = [...corpus.instances.values()][0]!;
  if (!instance.repo.environment) throw new Error('the ledger fixture has no environment');
  const snapshot = await corpus.snapshot(instance);
  const warm = await withPool({ warm: 1, envWarm: 2, max: 6 }, (pool) => resets(pool, instance, snapshot, true));
  const cold = await withPool({ warm: 1, envWarm: 0, max: 6 }, (pool) => resets(pool, instance, snapshot, false));
  const warmP50 = percentile(warm, 50);
  console.log(
    JSON.stringify(
      {
        fixtures,
        reset_warm: { n: warm.length, p50_ms: warmP50, p90_ms: percentile(warm, 90), max_ms: percentile(warm, 100) },
        reset_cold: { n: cold.length, p50_ms: percentile(cold, 50), p90_ms: percentile(cold, 90), max_ms: percentile(cold, 100) },
        reset_warm_p50_le_150ms: warmP50 <= 150,
      },
      null,
      2,
    ),
  );
}

try {
  await main();
} finally {
  rmSync(work, { recursive: true, force: true });
}
