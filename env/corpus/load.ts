/**
 * A corpus as the server serves it: every `*.jsonl` task file under its `tasks/` folder, and
 * the snapshot each instance is played on. The corpus alone knows where those live
 * (`repos/<repo.dir or repo.name>/`): servers, tests and benchmarks ask it.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskInstance } from '../../schemas/tasks.js';
import { assertValid, readInstances } from '../tasks/generate.js';
import { snapshotOf, type Snapshot } from './snapshot.js';
import type { StageSpec } from '../sandbox.js';
import { imageOf } from './environment.js';
import { baseStage, writeBase } from './workspace.js';

export interface Corpus {
  dir: string;
  instances: Map<string, TaskInstance>;
  /** Instance ids per family, in file order (what a seed indexes into). */
  families: Map<string, string[]>;
  /** The snapshot an instance is played on, hashed once per corpus and folder. */
  snapshot(instance: Pick<TaskInstance, 'repo'>): Promise<Snapshot>;
}

/** The folder of a corpus holding an instance's snapshot. */
export function snapshotRoot(corpusDir: string, instance: { repo: Pick<TaskInstance['repo'], 'name' | 'dir'> }): string {
  return join(corpusDir, 'repos', instance.repo.dir ?? instance.repo.name);
}

/** Snapshots of a corpus's folders, each hashed once (a failed read is tried again next time). */
export function snapshotsOf(corpusDir: string): (instance: Pick<TaskInstance, 'repo'>) => Promise<Snapshot> {
  const hashed = new Map<string, Promise<Snapshot>>();
  return (instance) => {
    const root = snapshotRoot(corpusDir, instance);
    let snapshot = hashed.get(root);
    if (!snapshot) {
      snapshot = snapshotOf(root);
      snapshot.catch(() => hashed.delete(root));
      hashed.set(root, snapshot);
    }
    return snapshot;
  };
}

export async function loadCorpus(dir: string): Promise<Corpus> {
  const tasksDir = join(dir, 'tasks');
  const instances = new Map<string, TaskInstance>();
  const families = new Map<string, string[]>();
  const files = existsSync(tasksDir) ? (await readdir(tasksDir)).filter((f) => f.endsWith('.jsonl')).sort() : [];
  for (const file of files) {
    for (const instance of await readInstances(join(tasksDir, file))) {
      assertValid(instance);
      instances.set(instance.instance_id, instance);
      families.set(instance.task, [...(families.get(instance.task) ?? []), instance.instance_id]);
    }
  }
  return { dir, instances, families, snapshot: snapshotsOf(dir) };
}

/** Where a server writes its corpus's bases (env/corpus/workspace.ts), for local engines to mount. */
export function basesDir(corpus: Pick<Corpus, 'dir'>): string {
  return join(corpus.dir, 'cache', 'bases');
}

/**
 * Writes the base of every snapshot of the corpus into `dir` (a base already there is kept),
 * before the pool starts its sandboxes: a sandbox holds the bases there when it starts. A
 * snapshot whose base cannot be written is left out (its resets send the whole workspace).
 */
export async function writeCorpusBases(corpus: Corpus, dir: string, warn: (repo: string, err: Error) => void = () => {}): Promise<number> {
  const roots = new Map<string, TaskInstance>();
  for (const instance of corpus.instances.values()) roots.set(snapshotRoot(corpus.dir, instance), instance);
  let written = 0;
  for (const instance of roots.values()) {
    try {
      await writeBase(await corpus.snapshot(instance), dir);
      written++;
    } catch (err) {
      warn(instance.repo.name, err as Error);
    }
  }
  return written;
}

/**
 * What warm sandboxes lay out ahead, by environment image (DockerPoolOptions.stages): for each
 * image whose instances all come from one snapshot, its base and every file they change. The
 * base image serves many snapshots and gets none; nor does an environment shared by several.
 */
export async function corpusStages(corpus: Corpus): Promise<Record<string, StageSpec>> {
  const byImage = new Map<string, { roots: Set<string>; instance: TaskInstance; changed: Set<string> }>();
  for (const instance of corpus.instances.values()) {
    const { image } = imageOf(instance.repo);
    if (!image) continue;
    let entry = byImage.get(image);
    if (!entry) byImage.set(image, (entry = { roots: new Set(), instance, changed: new Set() }));
    entry.roots.add(snapshotRoot(corpus.dir, instance));
    for (const edit of instance.edits) entry.changed.add(edit.file);
  }
  const stages: Record<string, StageSpec> = {};
  for (const [image, entry] of byImage) {
    if (entry.roots.size === 1) stages[image] = await baseStage(await corpus.snapshot(entry.instance), entry.changed);
  }
  return stages;
}
