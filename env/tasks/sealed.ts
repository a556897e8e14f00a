/**
 * A graded test run with a sealed report (docker/testing/hgym_seal.py). The grader makes a
 * one-time key, the runner reads and removes it before any repository code is imported, and
 * every record of the report carries an HMAC under that key and its sequence number. The code
 * under test can truncate or append to the report, but not forge a record: a report that does
 * not verify line by line, or that lacks the runner's final record, is not a pass.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Sandbox } from '../sandbox.js';
import { execRunner, type RunOptions, type TestResult } from './pytest.js';

const MAX_REPORT_BYTES = 16 * 2 ** 20;

/** The lines of the agent's definition in the graded file: frames there are the guard's concern. */
export interface AgentSpan {
  /** Absolute path in the sandbox. */
  path: string;
  first: number;
  last: number;
}

export type SealedRun =
  /** The runner ended normally; `exit` is pytest's exit status. */
  | { kind: 'ended'; tests: TestResult[]; violations: string[]; exit: number; ms: number }
  /** The run hit its time limit. */
  | { kind: 'timeout'; tests: TestResult[]; violations: string[]; ms: number }
  /** The process ended without the runner's final record (os._exit, a crash, a signal). */
  | { kind: 'crashed'; tests: TestResult[]; violations: string[]; detail: string; ms: number }
  /** A record failed to verify: something other than the runner wrote to the report. */
  | { kind: 'forged'; line: number; ms: number };

interface RecordBody {
  kind: 'test' | 'violation' | 'end';
  id?: string;
  outcome?: TestResult['outcome'];
  ms?: number;
  error?: TestResult['error'];
  event?: string;
  detail?: string;
  exit?: number;
}

/** Checks every line's MAC and sequence; the records, or the first line that failed. */
export function verifyReport(text: string, key: Buffer): { records: RecordBody[] } | { badLine: number } {
  const records: RecordBody[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const [i, line] of lines.entries()) {
    const match = /^(\d+) ([0-9a-f]{64}) (.*)$/s.exec(line);
    if (!match || Number(match[1]) !== i) return { badLine: i + 1 };
    const expected = createHmac('sha256', key).update(`${i}\n${match[3]!}`).digest();
    const given = Buffer.from(match[2]!, 'hex');
    if (!timingSafeEqual(expected, given)) return { badLine: i + 1 };
    try {
      records.push(JSON.parse(match[3]!) as RecordBody);
    } catch {
      return { badLine: i + 1 };
    }
  }
  return { records };
}

/**
 * Runs `graded` (pytest node ids) or `script` (a RepoST evaluation script) in a fresh exec, and
 * reads its sealed report. Errors of the sandbox itself propagate as coded errors.
 */
export async function runSealed(sandbox: Sandbox, run: { tests: readonly string[] } | { script: string }, agent: AgentSpan, options: RunOptions): Promise<SealedRun> {
  // Hex text: the sandbox's file writes carry text.
  const key = Buffer.from(randomBytes(32).toString('hex'), 'ascii');
  const keyPath = `/tmp/hgym-key-${randomBytes(8).toString('hex')}`;
  await sandbox.writeFile(keyPath, key.toString('ascii'));
  const span = `${agent.path}:${agent.first}:${agent.last}`;
  const args = 'script' in run ? [keyPath, span, run.script] : [keyPath, span, ...run.tests];
  const started = performance.now();
  const { out, errors, result } = await execRunner(sandbox, 'script' in run ? 'script' : 'graded', args, options);
  const ms = Math.round(performance.now() - started);
  const read = await sandbox.readFile(out, { maxBytes: MAX_REPORT_BYTES });
  const text = read.kind === 'file' && typeof read.text === 'string' ? read.text : '';
  const verified = verifyReport(text, key);
  if ('badLine' in verified) return { kind: 'forged', line: verified.badLine, ms };
  const tests: TestResult[] = [];
  const violations: string[] = [];
  let exit: number | null = null;
  for (const r of verified.records) {
    if (r.kind === 'test' && r.id !== undefined && r.outcome) tests.push({ id: r.id, outcome: r.outcome, ms: r.ms ?? 0, ...(r.error ? { error: r.error } : {}) });
    else if (r.kind === 'violation') violations.push(`${r.event ?? ''} ${r.detail ?? ''}`.trim());
    else if (r.kind === 'end' && typeof r.exit === 'number') exit = r.exit;
  }
  if (exit !== null) return { kind: 'ended', tests, violations, exit, ms };
  if (result.timedOut) return { kind: 'timeout', tests, violations, ms };
  const err = await sandbox.readFile(errors, { maxBytes: 8000 });
  const stderr = err.kind === 'file' && typeof err.text === 'string' ? err.text : '';
  return { kind: 'crashed', tests, violations, detail: `exit ${result.exitCode}: ${`${result.output}${stderr}`.slice(-1000)}`, ms };
}
