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
import { HgymError } from '../errors.js';

const run = promisify(execFile);

export interface PreparedWorkspace extends WorkspaceBaseline {
  /** The repository directory on the host, `.git` included. */
  dir: string;
  /**
   * The same tree as one gzipped tar archive, what a reset copies into the sandbox; with
   * `git: false`, without `.git`, for a grader's copy (history there would hold the original).
   */
  archive(options?: { git: boolean }): Promise<Buffer>;
}

const TAR_OPTIONS = ['--owner=0', '--group=0', '--numeric-owner', '--sort=name', '--mtime=2000-01-01 00:00Z'];

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
    archive: async (options) => (options?.git === false ? withoutGit(dir) : readFile(`${dir}.tar.gz`)),
    read: async (path) => {
      try {
        return await readFile(join(dir, path), 'utf8');
      } catch (error) {
        // The prepared workspace is the server's own: a file of it that cannot be read is a
        // failure of the server, never the agent's "unreadable file" (which would grade 0).
        if (!files.has(path) && (error as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw new HgymError('HGYM_ERR_GRADING_FAILED', [`the prepared workspace's ${path} cannot be read: ${(error as Error).message}`], { cause: error });
      }
    },
  };
}

/** Archives without `.git`, made once per workspace and cached beside the full one. */
const gitless = new Map<string, Promise<Buffer>>();

function withoutGit(dir: string): Promise<Buffer> {
  let pending = gitless.get(dir);
  if (!pending) {
    pending = (async () => {
      const path = `${dir}.nogit.tar.gz`;
      if (!existsSync(path)) {
        const part = `${path}.${process.pid}-${randomBytes(4).toString('hex')}`;
        await run('tar', ['-czf', part, ...TAR_OPTIONS, '--exclude=./.git', '-C', dir, '.']);
        await rename(part, path);
      }
      return readFile(path);
    })();
    pending.catch(() => gitless.delete(dir));
    gitless.set(dir, pending);
  }
  return pending;
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
  await run('tar', ['-czf', `${staging}.tar.gz`, ...TAR_OPTIONS, '-C', staging, '.']);
  await rm(dir, { recursive: true, force: true });
  await rm(`${dir}.nogit.tar.gz`, { force: true });
  await rename(staging, dir);
  await rename(`${staging}.tar.gz`, `${dir}.tar.gz`);
  await writeFile(manifest, JSON.stringify(Object.fromEntries(files)));
  return baseline(dir, files);
}
