/**
 * Where a repository comes from: a local directory, or a git URL at a revision
 * (`url@rev`), cloned once into a cache directory and checked out there.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface RepoSource {
  root: string;
  name: string;
  /** For git sources: the URL and the commit checked out. */
  url?: string;
  commit?: string;
}

/** Splits `url@rev`; an `@` that belongs to the URL (user@host:path) is not a revision. */
export function parseRepoArg(arg: string): { url: string; rev: string | null } {
  const at = arg.lastIndexOf('@');
  if (at > 0) {
    const rev = arg.slice(at + 1);
    if (rev && !/[/:]/.test(rev)) return { url: arg.slice(0, at), rev };
  }
  return { url: arg, rev: null };
}

function repoName(url: string): string {
  return basename(url.replace(/\/+$/, '')).replace(/\.git$/, '') || 'repo';
}

export async function resolveRepo(arg: string, cacheDir: string): Promise<RepoSource> {
  if (existsSync(arg) && statSync(arg).isDirectory() && !existsSync(join(arg, 'HEAD'))) {
    const root = resolve(arg);
    return { root, name: basename(root) };
  }
  const { url, rev } = parseRepoArg(arg);
  const dir = join(cacheDir, 'git', createHash('sha256').update(url).digest('hex').slice(0, 16));
  const cloned = existsSync(join(dir, '.git'));
  if (!cloned) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(cacheDir, { recursive: true });
    try {
      await run('git', ['clone', '--quiet', '--no-checkout', url, dir], { timeout: 600_000 });
    } catch (err) {
      throw new Error(`cannot clone ${url}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
    }
  }
  // A clone made earlier is brought up to date when it lacks the revision, or when the
  // remote's HEAD is asked for: a new revision is then found, not the old one served again.
  const has = rev !== null && (await run('git', ['-C', dir, 'cat-file', '-e', `${rev}^{commit}`]).then(() => true, () => false));
  if (cloned && !has) {
    try {
      await run('git', ['-C', dir, 'fetch', '--quiet', '--tags', '--force', 'origin', '+refs/heads/*:refs/remotes/origin/*'], { timeout: 600_000 });
      await run('git', ['-C', dir, 'remote', 'set-head', 'origin', '--auto'], { timeout: 120_000 });
    } catch (err) {
      throw new Error(`cannot fetch ${url}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
    }
  }
  try {
    await run('git', ['-C', dir, 'checkout', '--quiet', '--force', rev ?? 'refs/remotes/origin/HEAD'], { timeout: 120_000 });
    await run('git', ['-C', dir, 'clean', '-q', '-f', '-d', '-x'], { timeout: 120_000 });
  } catch (err) {
    throw new Error(`cannot check out ${rev ?? 'HEAD'} of ${url}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
  }
  const commit = (await run('git', ['-C', dir, 'rev-parse', 'HEAD'])).stdout.trim();
  return { root: dir, name: repoName(url), url, commit };
}
