/**
 * A repository's tests run in a sandbox by the image's runner (docker/testing/hgym_pytest.py):
 * at generation time to learn which tests reach which functions and which changes make tests
 * fail, at grading time to run an instance's tests. Every run is a fresh exec (every process
 * of the agent killed first, a clean shell, an empty environment) of `python3 -I`, so nothing
 * the agent left in its shell, its environment or its home takes part.
 */
import { randomBytes } from 'node:crypto';
import type { Sandbox } from '../sandbox.js';

export const RUNNER = '/opt/hgym/testing/hgym_pytest.py';
const MAX_REPORT_BYTES = 256 * 2 ** 20;

export type TestOutcome = 'passed' | 'failed' | 'skipped' | 'error';

export interface TestFrame {
  file: string;
  line: number;
  name: string;
  source: string;
}

export interface TestError {
  type: string;
  message: string;
  /** Frames inside the repository, outermost first. */
  frames: TestFrame[];
  when?: 'setup' | 'call' | 'teardown';
}

export interface TestResult {
  id: string;
  outcome: TestOutcome;
  ms: number;
  error?: TestError;
}

export interface TestReport {
  tests: TestResult[];
  /** pytest's exit status. */
  exit: number;
  /** The end of what the run wrote to stderr, when pytest exited with an error (2 or more). */
  stderr?: string;
}

export interface TraceReport extends TestReport {
  /** Test ids in the order they ran; `reach` indexes into it. */
  traced: string[];
  /** `path:first_line` of each code object of the repository → the tests that reached it. */
  reach: Record<string, number[]>;
}

/** One function's code replaced by that compiled from a changed text of its file. */
export interface CodeChange {
  file: string;
  qualname: string;
  /** The changed file's whole text. */
  source: string;
  /** The function's code object's first line in `source` (its first decorator's line). */
  code_line: number;
}

export interface Trial {
  changes: CodeChange[];
  tests: string[];
  /** Seconds the trial may take; the run's default when absent. */
  timeout?: number;
  /**
   * Consecutive trials with the same group and tests share one collection of the tests, and
   * each runs only the tests no earlier trial of the group passed (the runner's trials mode).
   */
  group?: string;
  /** In a group: the most tests this trial runs, the first of those left in `tests`' order. */
  at_most?: number;
}

export type TrialResult = TestReport | { skipped: string };

/** The failure of a run that is not the tests' own: the report is missing or unreadable. */
export class TestRunError extends Error {
  constructor(
    message: string,
    readonly output: string,
  ) {
    super(message);
    this.name = 'TestRunError';
  }
}

/** Quotes a word for bash. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface RunOptions {
  /** The repository root in the sandbox: the tests run there. */
  cwd: string;
  timeoutMs: number;
}

/** One fresh exec of the runner in an empty environment; where its report and stderr go. */
export async function execRunner(sandbox: Sandbox, mode: string, args: readonly string[], options: RunOptions) {
  const token = randomBytes(8).toString('hex');
  const out = `/tmp/hgym-${mode}-${token}.json`;
  const errors = `/tmp/hgym-${mode}-${token}.err`;
  const command = `env -i PATH=/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 python3 -I ${RUNNER} ${mode} ${out} ${args.map(shellQuote).join(' ')} >/dev/null 2>${errors}`;
  const result = await sandbox.exec(command, { timeoutMs: options.timeoutMs, fresh: { cwd: options.cwd }, maxOutput: 4000 });
  return { out, errors, result };
}

/**
 * Runs the runner in `mode` and reads its report; null when the run timed out before writing
 * one. A run that ends without a report otherwise is a TestRunError.
 */
async function runRunner<T>(sandbox: Sandbox, mode: 'run' | 'trace' | 'trials', args: readonly string[], options: RunOptions): Promise<T | null> {
  const { out, errors, result } = await execRunner(sandbox, mode, args, options);
  const read = await sandbox.readFile(out, { maxBytes: MAX_REPORT_BYTES });
  if (read.kind !== 'file' || typeof read.text !== 'string') {
    if (result.timedOut) return null;
    const err = await sandbox.readFile(errors, { maxBytes: 8000 });
    const stderr = err.kind === 'file' && typeof err.text === 'string' ? err.text : '';
    throw new TestRunError(`the test runner wrote no report (exit ${result.exitCode})`, `${result.output}${stderr}`.slice(-4000));
  }
  const report = JSON.parse(read.text) as T & { exit?: number; stderr?: string };
  // Interrupted, an internal error, a usage error (a conftest that does not import): pytest says why on stderr.
  if (typeof report.exit === 'number' && report.exit >= 2) {
    const err = await sandbox.readFile(errors, { maxBytes: 1 << 20 });
    if (err.kind === 'file' && typeof err.text === 'string' && err.text.trim()) report.stderr = err.text.slice(-4000);
  }
  await Promise.all([sandbox.removeFile(out), sandbox.removeFile(errors)]).catch(() => undefined);
  return report;
}

/** Runs the given tests (pytest node ids or paths); null when they did not end in time. */
export function runTests(sandbox: Sandbox, tests: readonly string[], options: RunOptions): Promise<TestReport | null> {
  return runRunner<TestReport>(sandbox, 'run', tests, options);
}

/** Runs the tests under `paths` with the call tracer. */
export async function traceTests(sandbox: Sandbox, paths: readonly string[], options: RunOptions): Promise<TraceReport> {
  const report = await runRunner<TraceReport>(sandbox, 'trace', paths, options);
  if (!report) throw new TestRunError(`the traced test run did not end within ${options.timeoutMs} ms`, '');
  return report;
}

/** Runs each trial in a child of one process; `perTrialS` bounds each. */
export async function runTrials(sandbox: Sandbox, trials: readonly Trial[], options: RunOptions & { perTrialS: number }): Promise<TrialResult[]> {
  const spec = `/tmp/hgym-trials-${randomBytes(8).toString('hex')}.json`;
  await sandbox.writeFile(spec, JSON.stringify({ timeout: options.perTrialS, trials }));
  const report = await runRunner<{ trials: TrialResult[] }>(sandbox, 'trials', [spec], options);
  await sandbox.removeFile(spec).catch(() => undefined);
  if (!report) throw new TestRunError(`trials did not end within ${options.timeoutMs} ms`, '');
  return report.trials;
}
