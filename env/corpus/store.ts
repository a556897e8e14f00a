/**
 * A corpus folder that generation adds repositories to, and `hgym serve --corpus` serves:
 *   repos/<name>@<snapshot>/        the snapshot's files, one folder per snapshot
 *   tasks/<name>@<snapshot>.jsonl   its instances, every family in one file
 *   tasks/<name>@<snapshot>.summary.json   what generation found (and why a family is empty)
 *   cache/                          prepared workspaces, traced runs and trials
 * A snapshot is added once: adding the same files again changes nothing, and a new revision
 * is a new snapshot beside the old one.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { TaskInstance } from '../../schemas/tasks.js';
import { readInstances, type RepoSummary } from '../tasks/generate.js';
import { snapshotOf, type Snapshot } from './snapshot.js';

/** The folder name of a snapshot in a corpus: the repository's name and the snapshot's id. */
export function snapshotDir(name: string, snapshot: Snapshot): string {
  return `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}@${snapshot.id.slice(0, 12)}`;
}

export function corpusCache(corpus: string): { workspaces: string; runs: string } {
  return { workspaces: join(corpus, 'cache', 'workspaces'), runs: join(corpus, 'cache', 'runs') };
}

export interface AddedRepo {
  dir: string;
  /** False when the corpus already held this snapshot: nothing was changed. */
  added: boolean;
  summary: RepoSummary;
  /** The snapshot's instances in the corpus (none when it yielded none and was not added). */
  instances: TaskInstance[];
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.part`, text);
  await rename(`${path}.part`, path);
}

/**
 * Adds a repository snapshot to the corpus: copies its files, then generates its instances
 * from that copy (`generate` is given the copy's root and the folder name), and writes them.
 * A snapshot that yields no instance is not added; its summary says why.
 */
export async function addSnapshot(
  corpus: string,
  source: { root: string; name: string },
  generate: (root: string, dir: string) => Promise<{ instances: TaskInstance[]; summary: RepoSummary }>,
): Promise<AddedRepo> {
  const snapshot = await snapshotOf(source.root);
  const dir = snapshotDir(source.name, snapshot);
  const repo = join(corpus, 'repos', dir);
  const tasks = join(corpus, 'tasks', `${dir}.jsonl`);
  const summaryPath = join(corpus, 'tasks', `${dir}.summary.json`);
  if (existsSync(tasks) && existsSync(summaryPath) && existsSync(repo)) {
    const summary = JSON.parse(await readFile(summaryPath, 'utf8')) as RepoSummary;
    return { dir, added: false, summary, instances: await readInstances(tasks) };
  }
  // The copy is what episodes are served from: it must be the snapshot generation saw.
  const part = `${repo}.part`;
  await rm(part, { recursive: true, force: true });
  for (const file of snapshot.files.keys()) {
    await mkdir(dirname(join(part, file)), { recursive: true });
    await copyFile(join(source.root, file), join(part, file));
  }
  const copied = await snapshotOf(part);
  if (copied.id !== snapshot.id) {
    await rm(part, { recursive: true, force: true });
    throw new Error(`${source.root} changed while it was copied into the corpus`);
  }
  await rm(repo, { recursive: true, force: true });
  await rename(part, repo);
  const { instances, summary } = await generate(repo, dir);
  if (instances.length === 0) {
    await rm(repo, { recursive: true, force: true });
    return { dir, added: false, summary, instances: [] };
  }
  await mkdir(dirname(tasks), { recursive: true });
  await writeAtomic(summaryPath, `${JSON.stringify(summary, null, 2)}\n`);
  // Written last: the task file is what marks the snapshot as added.
  await writeAtomic(tasks, instances.map((i) => `${JSON.stringify(i)}\n`).join(''));
  return { dir, added: true, summary, instances };
}
