/**
 * Workspaces: a snapshot with an instance's edits applied, as a fresh git repository with
 * one commit and no history. Prepared once per instance and cached; a reset only copies it.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Edit } from '../../schemas/tasks.js';
import type { WorkspaceBaseline } from '../tasks/changes.js';
import { applyEdits } from '../tasks/edits.js';
import { sha256, type Snapshot } from './snapshot.js';

const run = promisify(execFile);

export interface PreparedWorkspace extends WorkspaceBaseline {
  /** The repository directory on the host, `.git` included. */
  dir: string;
  /** The same tree as one gzipped tar archive, what a reset copies into the sandbox. */
  archive(): Promise<Buffer>;
}

/** Fixed identity and date: the same instance always gives the same commit. */
const GIT_ENV = {
  GIT_AUTHOR_NAME: 'hgym',
  GIT_AUTHOR_EMAIL: 'hgym@localhost',
  GIT_COMMITTER_NAME: 'hgym',
  GIT_COMMITTER_EMAIL: 'hgym@localhost',
  GIT_AUTHOR_DATE: '2000-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2000-01-01T00:00:00Z',
};

function baseline(dir: string, files: Map<string, string>): PreparedWorkspace {
  return {
    dir,
    files,
    archive: () => readFile(`${dir}.tar.gz`),
    read: async (path) => {
      try {
        return await readFile(join(dir, path), 'utf8');
      } catch {
        return null;
      }
    },
  };
}

/** Preparations under way in this process, by directory: concurrent callers share one. */
const preparing = new Map<string, Promise<PreparedWorkspace>>();

export function prepareWorkspace(instance: { instance_id: string; edits: readonly Edit[] }, snapshot: Snapshot, cacheDir: string): Promise<PreparedWorkspace> {
  const dir = join(cacheDir, instance.instance_id, 'repo');
  let pending = preparing.get(dir);
  if (!pending) {
    pending = prepare(instance, snapshot, dir).finally(() => preparing.delete(dir));
    preparing.set(dir, pending);
  }
  return pending;
}

async function prepare(instance: { instance_id: string; edits: readonly Edit[] }, snapshot: Snapshot, dir: string): Promise<PreparedWorkspace> {
  const manifest = join(dirname(dir), 'files.json');
  if (existsSync(manifest) && existsSync(`${dir}.tar.gz`)) {
    const files = new Map<string, string>(Object.entries(JSON.parse(await readFile(manifest, 'utf8')) as Record<string, string>));
    return baseline(dir, files);
  }
  // Build beside the final place and rename, so a crash never leaves a half-made workspace.
  const staging = `${dir}.staging-${process.pid}-${randomBytes(4).toString('hex')}`;
  await rm(staging, { recursive: true, force: true });
  await rm(`${staging}.tar.gz`, { force: true });
  const files = new Map<string, string>();
  const byFile = new Map<string, Edit[]>();
  for (const e of instance.edits) byFile.set(e.file, [...(byFile.get(e.file) ?? []), e]);
  for (const [path, digest] of snapshot.files) {
    const target = join(staging, path);
    await mkdir(dirname(target), { recursive: true });
    const edits = byFile.get(path);
    if (!edits) {
      await cp(join(snapshot.root, path), target);
      files.set(path, digest);
      continue;
    }
    const text = applyEdits(await readFile(join(snapshot.root, path), 'utf8'), edits);
    await writeFile(target, text);
    files.set(path, sha256(text));
  }
  for (const e of instance.edits) if (!snapshot.files.has(e.file)) throw new Error(`edit of ${e.file}, which the snapshot does not hold`);
  await run('git', ['init', '-q', '-b', 'main', staging]);
  await run('git', ['-C', staging, 'add', '-A']);
  await run('git', ['-C', staging, 'commit', '-q', '--no-gpg-sign', '-m', 'workspace'], { env: { ...process.env, ...GIT_ENV } });
  // Compressed: a reset sends the archive through the engine's attach stream in one frame.
  await run('tar', ['-czf', `${staging}.tar.gz`, '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '--mtime=2000-01-01 00:00Z', '-C', staging, '.']);
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  await rename(`${staging}.tar.gz`, `${dir}.tar.gz`);
  await writeFile(manifest, JSON.stringify(Object.fromEntries(files)));
  return baseline(dir, files);
}
