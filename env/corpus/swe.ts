/**
 * Import of SWE-bench / SWE-Gym records (`instance_id, repo, base_commit, problem_statement,
 * patch`) as issue_localize instances. Each base commit becomes its own snapshot folder
 * (`repos/<name>@<commit>`), exported from git without history; gold locations come from
 * the patch's hunks, mapped onto definitions of that pre-patch tree.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IssueLocalizeInstance } from '../../schemas/tasks.js';
import { analyzeRepo } from '../analysis/repo.js';
import type { RepoContext } from '../tasks/context.js';
import { issueInstance, patchLocations } from '../tasks/issue-localize.js';
import { readFile } from 'node:fs/promises';
import { snapshotOf } from './snapshot.js';

const run = promisify(execFile);

export interface SweRecord {
  instance_id: string;
  repo: string;
  base_commit: string;
  problem_statement: string;
  patch: string;
}

export function isSweRecord(value: unknown): value is SweRecord {
  const r = value as Partial<SweRecord> | null;
  return !!r && ['instance_id', 'repo', 'base_commit', 'problem_statement', 'patch'].every((k) => typeof r[k as keyof SweRecord] === 'string');
}

/** The tree of `commit` in the git repository at `gitDir`, exported to `dest` without history. */
export async function exportCommit(gitDir: string, commit: string, dest: string): Promise<void> {
  if (existsSync(dest)) return;
  const staging = `${dest}.staging-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const archive = `${staging}.tar`;
  try {
    await run('git', ['-C', gitDir, 'archive', '--format=tar', '-o', archive, commit], { timeout: 300_000 });
    await run('tar', ['-xf', archive, '-C', staging]);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw new Error(`cannot export ${commit} of ${gitDir}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, { cause: err });
  } finally {
    await rm(archive, { force: true });
  }
  await rename(staging, dest);
}

export interface ImportResult {
  instances: IssueLocalizeInstance[];
  skipped: { instance_id: string; reason: string }[];
}

/**
 * `gitDirOf(repo)` gives a local git checkout for a record's `repo` ("owner/name"), or null
 * when none was provided. Snapshots go under `corpusDir/repos/`.
 */
export async function importSwe(
  records: readonly unknown[],
  gitDirOf: (repo: string) => Promise<string | null>,
  corpusDir: string,
  source: 'swe' | 'mined' = 'swe',
): Promise<ImportResult> {
  const instances: IssueLocalizeInstance[] = [];
  const skipped: ImportResult['skipped'] = [];
  for (const record of records) {
    if (!isSweRecord(record)) {
      skipped.push({ instance_id: String((record as { instance_id?: unknown } | null)?.instance_id ?? '?'), reason: 'not a SWE-bench record (instance_id, repo, base_commit, problem_statement, patch)' });
      continue;
    }
    const gitDir = await gitDirOf(record.repo);
    if (!gitDir) {
      skipped.push({ instance_id: record.instance_id, reason: `no repository given for ${record.repo}` });
      continue;
    }
    const lines = patchLocations(record.patch);
    if (lines.length === 0) {
      skipped.push({ instance_id: record.instance_id, reason: 'the patch changes no existing non-test Python file' });
      continue;
    }
    const name = record.repo.split('/').pop()!.replace(/[^A-Za-z0-9_.-]/g, '_');
    const dir = `${name}@${record.base_commit.slice(0, 12)}`;
    const root = join(corpusDir, 'repos', dir);
    await exportCommit(gitDir, record.base_commit, root);
    const snapshot = await snapshotOf(root);
    const analysis = await analyzeRepo(root);
    const ctx: RepoContext = {
      name,
      ref: { name, snapshot: snapshot.id, license: 'unknown', dir, origin: { url: record.repo, commit: record.base_commit } },
      analysis,
      source: (file) => readFile(join(root, file), 'utf8'),
    };
    const instance = issueInstance(ctx, { source, sourceId: record.instance_id, issue: record.problem_statement, lines });
    if (instance) instances.push(instance);
    else skipped.push({ instance_id: record.instance_id, reason: 'the patched files do not parse at the base commit' });
  }
  return { instances, skipped };
}
