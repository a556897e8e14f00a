/**
 * Corpus generation: analyse repository snapshots and write one JSONL file per task family,
 * every line valid against its schema.
 */
import { mkdir, open, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Ajv } from 'ajv';
import { TASK_SCHEMAS, type TaskInstance } from '../../schemas/tasks.js';
import { readJsonl } from '../jsonl.js';
import { analyzeRepo } from '../analysis/repo.js';
import { snapshotOf, type Snapshot } from '../corpus/snapshot.js';
import { imageCollisions, type Collision, type ImageFiles } from '../corpus/image.js';
import type { Describer, GenerateOptions, RepoContext } from './context.js';
import { errorLine, hasTests, type ExecutionOptions } from './executed.js';
import { TestRunError } from './pytest.js';
import { generateFuncGen } from './func-gen.js';
import { generateInjected } from './injected.js';
import { generateDepSearch } from './dep-search.js';
import { generateFuncLocalize } from './func-localize.js';
import { hashSeed, Rng } from './rng.js';

export const FAMILIES = ['func_localize', 'dep_search', 'issue_localize', 'func_gen'] as const;
export type Family = (typeof FAMILIES)[number];
/** Families whose generation runs the repository's tests in sandboxes. */
export const EXECUTED_FAMILIES: readonly Family[] = ['issue_localize', 'func_gen'];

export interface RepoInput {
  root: string;
  name?: string;
  /** The snapshot's folder under the corpus's `repos/`, when it is not the name. */
  dir?: string;
  /** Where the snapshot came from (a git URL and the commit). */
  origin?: { url: string; commit: string };
  license?: string;
  version?: string;
  /** The id of the environment its tests run in (env/corpus/environment.ts), if it needs one. */
  environment?: string;
}

export interface GenerateRunOptions {
  tasks?: readonly Family[];
  seed?: number;
  /** Instances per repository and family: one number for all, or per family (150 when unset). */
  maxPerRepo?: number | Partial<Record<Family, number>>;
  describe?: Describer;
  /** Sandboxes for the executed families; without them those families are skipped. */
  execution?: ExecutionOptions;
  /** Why the repository's environment could not be made: its tests are not run, and the summary says why. */
  environmentError?: string;
  /** The sandbox image's files: a repository with any file in it gives no instances (DESIGN §9). */
  image?: ImageFiles;
  /** Called as files are analysed and repositories finished. */
  onProgress?: (event: { repo: string; files: number; total: number; bytes: number }) => void;
}

export interface RepoSummary {
  repo: string;
  snapshot: string;
  files: number;
  skipped: { file: string; reason: string }[];
  bytes: number;
  analysisMs: number;
  instances: Partial<Record<Family, number>>;
  generationMs: Partial<Record<Family, number>>;
  /** Families not generated or with no instance, and why. */
  notes?: Partial<Record<Family, string>>;
  /** Set when the repository was left out: its files that the sandbox image holds. */
  imageCollisions?: Collision[];
  /** The environment its tests ran in (id, image, what pip resolved), or why none could be made. */
  environment?: { id: string; image: string; resolved: string[] } | { error: string };
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validators = Object.fromEntries(Object.entries(TASK_SCHEMAS).map(([k, s]) => [k, ajv.compile(s)]));

/** Throws when an instance does not match its family's schema (a generator bug, never data). */
export function assertValid(instance: TaskInstance): void {
  const { task, instance_id: id } = instance;
  const validate = validators[task]!;
  if (!validate(instance)) throw new Error(`invalid ${task} instance ${id}: ${ajv.errorsText(validate.errors)}`);
}

export async function generateForRepo(input: RepoInput, options: GenerateRunOptions = {}): Promise<{ instances: TaskInstance[]; summary: RepoSummary }> {
  const name = input.name ?? basename(input.root);
  const seed = options.seed ?? 0;
  const snapshot = await snapshotOf(input.root);
  // Every workspace of the repository is the whole snapshot, so one file in the image is
  // in reach of every instance; an unchanged copy also tells the agent where the rest is.
  const collisions = options.image ? imageCollisions(snapshot, options.image) : [];
  if (collisions.length > 0) {
    const summary = { repo: name, snapshot: snapshot.id, files: 0, skipped: [], bytes: 0, analysisMs: 0, instances: {}, generationMs: {}, imageCollisions: collisions };
    return { instances: [], summary };
  }
  const analysis = await analyzeRepo(input.root, {
    onFile: (files, total, bytes) => options.onProgress?.({ repo: name, files, total, bytes }),
  });
  const ctx: RepoContext = {
    name,
    ref: {
      name,
      ...(input.dir ? { dir: input.dir } : {}),
      snapshot: snapshot.id,
      license: input.license ?? 'unknown',
      ...(input.version ? { version: input.version } : {}),
      ...(input.origin ? { origin: input.origin } : {}),
      ...(input.environment ? { environment: input.environment } : {}),
    },
    analysis,
    source: (file) => readFile(join(input.root, file), 'utf8'),
  };
  const summary: RepoSummary = {
    repo: name,
    snapshot: snapshot.id,
    files: analysis.stats.files,
    skipped: analysis.skipped,
    bytes: analysis.stats.bytes,
    analysisMs: Math.round(analysis.stats.ms),
    instances: {},
    generationMs: {},
  };
  const instances: TaskInstance[] = [];
  const max = (family: Family) => (typeof options.maxPerRepo === 'number' ? options.maxPerRepo : (options.maxPerRepo?.[family] ?? 150));
  for (const family of options.tasks ?? FAMILIES) {
    if (EXECUTED_FAMILIES.includes(family)) {
      const why = !options.execution
        ? 'no sandboxes to run tests in'
        : options.environmentError
          ? `its environment could not be made: ${options.environmentError}`
          : !hasTests(ctx)
            ? 'the repository has no test modules'
            : null;
      if (why) {
        (summary.notes ??= {})[family] = why;
        continue;
      }
    }
    const started = performance.now();
    // Each family and repository draws from its own stream: adding a repository or a
    // family does not change the instances of the others.
    let why: string | undefined;
    const generateOptions = {
      seed,
      rng: new Rng(hashSeed(`${family}:${snapshot.id}`, seed)),
      maxPerRepo: max(family),
      ...(options.describe ? { describe: options.describe } : {}),
      explain: (reason: string) => void (why ??= reason),
    };
    let made: TaskInstance[];
    try {
      made = await generateFamily(family, ctx, snapshot, generateOptions, options.execution);
    } catch (error) {
      // The runner itself failed (a plugin that breaks pytest, a crash): this repository's
      // executed families are empty, with the error, and the others go on.
      if (!(error instanceof TestRunError)) throw error;
      made = [];
      why = `${error.message}: ${errorLine(error.output)}`;
    }
    if (made.length === 0) (summary.notes ??= {})[family] = why ?? 'no definition met the rules of the family (docs/tasks.md)';
    for (const instance of made) assertValid(instance);
    instances.push(...made);
    summary.instances[family] = made.length;
    summary.generationMs[family] = Math.round(performance.now() - started);
  }
  return { instances, summary };
}

function generateFamily(family: Family, ctx: RepoContext, snapshot: Snapshot, options: GenerateOptions, execution: ExecutionOptions | undefined): Promise<TaskInstance[]> {
  switch (family) {
    case 'func_localize':
      return generateFuncLocalize(ctx, options);
    case 'dep_search':
      return generateDepSearch(ctx, options);
    case 'issue_localize':
      return generateInjected(ctx, snapshot, options, execution!);
    case 'func_gen':
      return generateFuncGen(ctx, snapshot, options, execution!);
  }
}

/** Writes instances as `<out>/<family>.jsonl`, one line each, in the order given. */
export async function writeInstances(out: string, instances: readonly TaskInstance[], families: readonly Family[]): Promise<Record<string, string>> {
  await mkdir(out, { recursive: true });
  const paths: Record<string, string> = {};
  for (const family of families) {
    const path = join(out, `${family}.jsonl`);
    const file = await open(path, 'w');
    try {
      for (const instance of instances) if (instance.task === family) await file.write(`${JSON.stringify(instance)}\n`);
    } finally {
      await file.close();
    }
    paths[family] = path;
  }
  return paths;
}

export function readInstances(path: string): Promise<TaskInstance[]> {
  return readJsonl<TaskInstance>(path);
}
