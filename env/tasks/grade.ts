/** What every grader shares: the result shape, the code-change rule, and text similarity. */
import type { Definition } from '../analysis/types.js';
import type { Changes, ModifiedFile } from './changes.js';
import { pythonFacts } from './python-facts.js';

export interface GradeResult {
  /** In [0, 1]. */
  reward: number;
  /** Which rule decided, and the breakdown. */
  info: Record<string, unknown> & { rule: string };
}

export interface CodeChange {
  file: string;
  reason: string;
}

/**
 * Parse time one grading may spend on the files an agent changed. Parses block the event loop
 * and tree-sitter's time grows with the square of some inputs; an agent's ordinary edits parse
 * in a few milliseconds. The parser checks its clock only now and then, so a pathological
 * file may overrun this by up to about as much again.
 */
export const CHECK_MS = 1000;

/**
 * Changes beyond comments and docstrings: a Python file whose skeleton differs (or that no
 * longer parses), any other file modified, any file deleted. Files the agent added are not
 * code changes of the repository (scratch scripts); graders report them.
 *
 * Skeletons are taken of the text as Python reads it; a file whose parse Python reads
 * otherwise, before or after, is a change: what the grader cannot see, it cannot clear. So is
 * a file not parsed within the grading's CHECK_MS.
 */
export function codeChanges(changes: Changes): CodeChange[] {
  const out: CodeChange[] = [];
  const deadline = performance.now() + CHECK_MS;
  for (const m of changes.modified) {
    const left = (deadline - performance.now()) * 1000;
    if (!m.path.endsWith('.py')) out.push({ file: m.path, reason: 'a non-Python file was modified' });
    else if (m.before === null || m.after === null) out.push({ file: m.path, reason: m.unread ?? 'the file is no longer readable as text' });
    else if (left <= 0) out.push({ file: m.path, reason: `not checked: the changes take longer than ${CHECK_MS} ms to parse` });
    else {
      const after = pythonFacts(m.path, m.after, left);
      const before = after.timedOut ? after : pythonFacts(m.path, m.before, (deadline - performance.now()) * 1000);
      if (after.timedOut || before.timedOut) out.push({ file: m.path, reason: `not checked: the changes take longer than ${CHECK_MS} ms to parse` });
      else if (after.distrust) out.push({ file: m.path, reason: `Python does not read the file as its parse shows: ${after.distrust}` });
      else if (after.skeleton === null) out.push({ file: m.path, reason: 'the file no longer parses' });
      else if (before.distrust) out.push({ file: m.path, reason: `Python did not read the file as its parse shows before the episode either: ${before.distrust}` });
      else if (after.skeleton !== before.skeleton) out.push({ file: m.path, reason: 'code changed (not only comments or docstrings)' });
    }
  }
  for (const path of changes.deleted) out.push({ file: path, reason: 'the file was deleted' });
  return out;
}

/** Definitions of a file's text by qualname (empty when it does not parse in time); shared, not to be changed. */
export function definitionsOf(file: string, text: string | null, timeoutMicros?: number): ReadonlyMap<string, Definition> {
  return text === null ? new Map() : pythonFacts(file, text, timeoutMicros).definitions;
}

export function modifiedFile(changes: Changes, path: string): ModifiedFile | undefined {
  return changes.modified.find((m) => m.path === path);
}

/** Token-level F1 of two texts (lower-cased words), as a similarity in [0, 1]. */
export function tokenF1(a: string, b: string): number {
  const tokens = (s: string) => s.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  const ta = tokens(a);
  const tb = tokens(b);
  if (ta.length === 0 || tb.length === 0) return 0;
  const counts = new Map<string, number>();
  for (const t of tb) counts.set(t, (counts.get(t) ?? 0) + 1);
  let overlap = 0;
  for (const t of ta) {
    const n = counts.get(t) ?? 0;
    if (n > 0) {
      overlap++;
      counts.set(t, n - 1);
    }
  }
  if (overlap === 0) return 0;
  const p = overlap / ta.length;
  const r = overlap / tb.length;
  return (2 * p * r) / (p + r);
}

export function f1(tp: number, fp: number, fn: number): { precision: number; recall: number; f1: number } {
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const score = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision: round(precision), recall: round(recall), f1: round(score) };
}

export function round(x: number): number {
  return Math.round(x * 10_000) / 10_000;
}
