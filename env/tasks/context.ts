/** What a generator works from: one analysed repository snapshot and the options of the run. */
import { createHash } from 'node:crypto';
import type { Static } from '@sinclair/typebox';
import type { RepoAnalysis } from '../analysis/repo.js';
import type { RepoRef } from '../../schemas/tasks.js';
import type { Rng } from './rng.js';

export interface RepoContext {
  /** Repository name: the workspace is /workspace/<name>. */
  name: string;
  ref: Static<typeof RepoRef>;
  analysis: RepoAnalysis;
  /** The text of a file of the snapshot. */
  source(file: string): Promise<string>;
}

/** Writes a description with a model; null means "use the rule-based one". */
export type Describer = (input: { docstring: string; kind: string; name: string; qualname: string }) => Promise<string | null>;

export interface GenerateOptions {
  seed: number;
  rng: Rng;
  maxPerRepo: number;
  describe?: Describer;
  /** Told why, when a family yields no instance for the repository. */
  explain?: (reason: string) => void;
}

export const WORKSPACE_ROOT = '/workspace';

export function workspacePath(repo: string): string {
  return `${WORKSPACE_ROOT}/${repo}`;
}

/** Test modules and test directories: their functions are not targets. */
export function isTestFile(file: string): boolean {
  return /(^|\/)(tests?|testing)\//.test(file) || /(^|\/)(test_[^/]*|[^/]*_test|conftest)\.py$/.test(file);
}

/** A stable id: the family, the repository, its snapshot and what was picked. */
export function instanceId(task: string, ctx: Pick<RepoContext, 'name' | 'ref'>, parts: readonly string[]): string {
  const hash = createHash('sha256').update([ctx.ref.snapshot, ...parts].join('\0')).digest('hex').slice(0, 12);
  return `${task}.${ctx.name.replace(/[^A-Za-z0-9_-]/g, '_')}.${hash}`;
}

/**
 * Definitions whose qualname occurs once in their file. A name defined twice (a property
 * getter and setter, alternatives in an if/else) is ambiguous to grade, so it is never a
 * target or a dependency.
 */
export function uniquelyNamed(analysis: RepoAnalysis): Set<string> {
  const counts = new Map<string, number>();
  for (const m of analysis.modules) for (const d of m.definitions) counts.set(`${d.file}:${d.qualname}`, (counts.get(`${d.file}:${d.qualname}`) ?? 0) + 1);
  return new Set([...counts].filter(([, n]) => n === 1).map(([k]) => k));
}
