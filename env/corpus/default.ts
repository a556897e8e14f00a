/**
 * The default corpus: the Debian-packaged libraries (env/corpus/debian.ts) and the task
 * instances generated from them, under one directory:
 *   manifest.json            libraries, versions, licences
 *   repos/<name>/            the repositories
 *   tasks/<family>.jsonl     instances, one JSON line each
 *   tasks/summary.json       what generation found, and the key that decides regeneration
 *   cache/workspaces/        prepared workspaces (shared with the server)
 *   environments/<id>.json   the environments of libraries whose tests need pip packages
 *   cache/runs/<snapshot>[.<environment>][.<tests>]/   test runs of the executed families: the trace, trial results
 *   cache/images/<id>.json   the files of the sandbox image and of environment images, by sha256
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskInstance } from '../../schemas/tasks.js';
import { DEFAULT_LIBRARIES, fetchDebianLibraries, type LibraryEntry, type LibrarySpec } from './debian.js';
import { environmentFor, pins, writeEnvironmentRecord, type EnvironmentTools } from './environment.js';
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

/** The environment of a library whose tests need packages (its `requires`), recorded in the corpus. */
async function libraryEnvironment(dir: string, lib: LibraryEntry, spec: LibrarySpec | undefined, tools: EnvironmentTools | undefined) {
  if (!spec?.requires?.length) return undefined;
  if (!tools) return { error: 'no Docker engine to build its environment in' };
  const given = { requirements: [...spec.requires], sources: [`${lib.package} (the default corpus's list)`], skipped: [] };
  const made = await environmentFor(lib.root, tools, join(dir, 'cache', 'environments'), given);
  if (made && 'record' in made) await writeEnvironmentRecord(dir, made.record);
  return made;
}

export async function buildDefaultCorpus(
  dir: string,
  options: Pick<GenerateRunOptions, 'onProgress' | 'describe'> & {
    onFetch?: (done: number, total: number, name: string) => void;
    /** Sandboxes for the executed families (the repositories' tests run in them). */
    execution?: Pick<ExecutionOptions, 'pool' | 'workers' | 'onProgress'>;
    /** The sandbox image's files: libraries it holds are left out (DESIGN §9). */
    image?: ImageFiles;
    /** For libraries whose tests need packages from pip (`requires`): their environments. */
    environments?: EnvironmentTools;
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
  const specOf = (name: string) => DEFAULT_LIBRARIES.find((s) => s.name === name);
  const key = JSON.stringify({
    generator: GENERATOR_VERSION,
    seed: DEFAULT_SEED,
    max: DEFAULT_MAX_PER_REPO,
    executed: Boolean(options.execution),
    environments: Boolean(options.environments),
    libraries: libraries.map((l) => [l.name, l.version, specOf(l.name)?.requires ?? [], specOf(l.name)?.tests ?? [], specOf(l.name)?.max ?? {}]),
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
    const spec = specOf(lib.name);
    const made = await libraryEnvironment(dir, lib, spec, options.environments);
    const environment = made && 'record' in made ? made.record.id : undefined;
    const { instances, summary } = await generateForRepo(
      { root: lib.root, name: lib.name, license: lib.license, version: lib.version, ...(environment ? { environment } : {}) },
      {
        seed: DEFAULT_SEED,
        maxPerRepo: { ...DEFAULT_MAX_PER_REPO, ...spec?.max },
        ...(options.describe ? { describe: options.describe } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(execution ? { execution: spec?.tests ? { ...execution, tests: spec.tests } : execution } : {}),
        ...(made && 'error' in made ? { environmentError: made.error } : {}),
      },
    );
    if (made) summary.environment = 'error' in made ? { error: made.error } : { id: made.record.id, image: made.record.image, resolved: pins(made.record.resolved) };
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
