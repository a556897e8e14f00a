/**
 * Issues mined from a repository's git history: commits whose message reads like a bug
 * report or a fix, touching few files, with changes to non-test Python code. The message is
 * the issue; the commit's diff against its parent gives the gold locations on the parent's
 * tree. They go through the same path as SWE-bench records.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { isTestFile } from '../tasks/context.js';
import type { SweRecord } from './swe.js';

const run = promisify(execFile);

/** Words of a fix or a bug report, as whole words, in the subject or body. */
const FIX_WORDS = /\b(fix(e[sd]|ing)?|bug(s|fix)?|issue|error|crash(es|ed)?|fail(s|ed|ing|ure)?|incorrect(ly)?|wrong(ly)?|broken|regression|exception|off[- ]by[- ]one)\b/i;
/** Fixes of things that are not code. */
const NOT_CODE = /\b(typo|docs?|documentation|readme|changelog|spelling|whitespace|lint|flake8|style|ci|release|version bump)\b/i;

export interface MineOptions {
  /** Most non-test Python files a commit may change. */
  maxFiles?: number;
  /** Most commits to look at, newest first. */
  maxCommits?: number;
}

export function readsLikeAFix(message: string): boolean {
  const subject = message.split('\n')[0] ?? '';
  return message.trim().length >= 15 && FIX_WORDS.test(message) && !NOT_CODE.test(subject);
}

/** Candidate records from the history of the git repository at `gitDir`, named `repo`. */
export async function mineFixCommits(gitDir: string, repo: string, options: MineOptions = {}): Promise<SweRecord[]> {
  const maxFiles = options.maxFiles ?? 3;
  const log = await run('git', ['-C', gitDir, 'log', '--no-merges', `--max-count=${options.maxCommits ?? 2000}`, '--format=%H %P%x00%B%x01'], { maxBuffer: 256 * 2 ** 20 });
  const records: SweRecord[] = [];
  for (const entry of log.stdout.split('\x01')) {
    const [head, body = ''] = entry.replace(/^\n/, '').split('\x00');
    const [sha, parent] = (head ?? '').trim().split(' ');
    if (!sha || !parent || !readsLikeAFix(body)) continue;
    const names = (await run('git', ['-C', gitDir, 'diff', '--name-only', parent, sha])).stdout.split('\n').filter(Boolean);
    const code = names.filter((n) => n.endsWith('.py') && !isTestFile(n));
    if (code.length === 0 || code.length > maxFiles) continue;
    const patch = (await run('git', ['-C', gitDir, 'diff', parent, sha, '--', ...code], { maxBuffer: 64 * 2 ** 20 })).stdout;
    records.push({ instance_id: `${repo.split('/').pop()}-${sha.slice(0, 12)}`, repo, base_commit: parent, problem_statement: body.trim(), patch });
  }
  return records;
}
