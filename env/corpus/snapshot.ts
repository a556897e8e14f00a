/**
 * Repository snapshots, identified by content: the same files give the same id wherever
 * and whenever they are read, so instances stay valid and reproducible.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

export interface Snapshot {
  root: string;
  /** sha256 over the sorted paths and contents of every file (but VCS metadata). */
  id: string;
  /** sha256 of each file, by path relative to the root. */
  files: Map<string, string>;
}

const VCS = new Set(['.git', '.hg', '.svn']);

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (!VCS.has(e.name) && e.name !== '__pycache__') await walk(full);
      } else if (e.isFile()) out.push(relative(root, full).split('\\').join('/'));
    }
  }
  await walk(root);
  return out.sort();
}

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function snapshotOf(root: string): Promise<Snapshot> {
  const files = new Map<string, string>();
  const whole = createHash('sha256');
  for (const path of await listFiles(root)) {
    const digest = sha256(await readFile(join(root, path)));
    files.set(path, digest);
    whole.update(`${path}\0${digest}\n`);
  }
  return { root, id: whole.digest('hex'), files };
}
