/**
 * The default corpus: the Debian-packaged libraries (env/corpus/debian.ts) and the task
 * instances generated from them, under one directory:
 *   manifest.json            libraries, versions, licences
 *   repos/<name>/            the repositories
 *   tasks/<family>.jsonl     instances, one JSON line each
 *   tasks/summary.json       what generation found, and the key that decides regeneration
 *   cache/workspaces/        prepared workspaces (shared with the server)
 *   cache/runs/<snapshot>/   test runs of the executed families: the trace, trial results
 *   cache/images/<id>.json   the sandbox image's files by sha256 (checked against the libraries)
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskInstance } from '../../schemas/tasks.js';
import { fetchDebianLibraries } from './debian.js';
import { whyImageHolds, type ImageFiles } from './image.js';
import type { ExecutionOptions } from '../tasks/executed.js';
import { FAMILIES, generateForRepo, writeInstances, type GenerateRunOptions, type RepoSummary } from '../tasks/generate.js';

/** Bumped whenever generation changes what it produces, so existing corpora are rebuilt. */
export const GENERATOR_VERSION = 8;
export const DEFAULT_SEED = 1;
/** Per repository: the executed families come from the two libraries that ship tests. */
export const DEFAULT_MAX_PER_REPO = { func_localize: 150, dep_search: 150, issue_localize: 300, func_gen: 300 } as const;

export interface CorpusSummary {
  key: string;
  repos: RepoSummary[];
  instances: Record<string, number>;
  /** Libraries not served because the sandbox image holds them, and how. */
  left_out?: { repo: string; why: string }[];
  ms: number;
}

export async function buildDefaultCorpus(
  dir: string,
  options: Pick<GenerateRunOptions, 'onProgress' | 'describe'> & {
    onFetch?: (done: number, total: number, name: string) => void;
    /** Sandboxes for the executed families (the repositories' tests run in them). */
    execution?: Pick<ExecutionOptions, 'pool' | 'workers' | 'onProgress'>;
    /** The sandbox image's files: libraries it holds are left out (DESIGN §9). */
    image?: ImageFiles;
  } = {},
): Promise<CorpusSummary & { reused: boolean }> {
  const started = performance.now();
  const fetched = await fetchDebianLibraries({ dir, ...(options.onFetch ? { onProgress: options.onFetch } : {}) });
  // Checked on every run, not only when generating: the image may have changed since.
  const leftOut: { repo: string; why: string }[] = [];
  const { image } = options;
  for (const lib of fetched) {
    const why = image ? await whyImageHolds(lib.root, image) : null;
    if (why !== null) leftOut.push({ repo: lib.name, why });
  }
  const libraries = fetched.filter((lib) => !leftOut.some((l) => l.repo === lib.name));
  const key = JSON.stringify({
    generator: GENERATOR_VERSION,
    seed: DEFAULT_SEED,
    max: DEFAULT_MAX_PER_REPO,
    executed: Boolean(options.execution),
    libraries: libraries.map((l) => [l.name, l.version]),
  });
  const execution = options.execution ? { ...options.execution, cacheDir: join(dir, 'cache', 'workspaces'), runsDir: join(dir, 'cache', 'runs') } : undefined;
  const summaryPath = join(dir, 'tasks', 'summary.json');
  if (existsSync(summaryPath)) {
    const previous = JSON.parse(await readFile(summaryPath, 'utf8')) as CorpusSummary;
    if (previous.key === key && FAMILIES.every((f) => existsSync(join(dir, 'tasks', `${f}.jsonl`)))) return { ...previous, reused: true };
  }
  const all: TaskInstance[] = [];
  const repos: RepoSummary[] = [];
  for (const lib of libraries) {
    const { instances, summary } = await generateForRepo(
      { root: lib.root, name: lib.name, license: lib.license, version: lib.version },
      { seed: DEFAULT_SEED, maxPerRepo: DEFAULT_MAX_PER_REPO, ...(options.describe ? { describe: options.describe } : {}), ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(execution ? { execution } : {}) },
    );
    all.push(...instances);
    repos.push(summary);
  }
  await mkdir(join(dir, 'tasks'), { recursive: true });
  await writeInstances(join(dir, 'tasks'), all, FAMILIES);
  const counts = Object.fromEntries(FAMILIES.map((f) => [f, all.filter((i) => i.task === f).length]));
  const summary: CorpusSummary = { key, repos, instances: counts, ...(leftOut.length ? { left_out: leftOut } : {}), ms: Math.round(performance.now() - started) };
  await writeFile(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  return { ...summary, reused: false };
}
