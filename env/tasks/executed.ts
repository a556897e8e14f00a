/**
 * What the executed task families (issue_localize from injected bugs, func_gen) learn by
 * running a repository's tests in sandboxes: one traced run of the whole suite (which tests
 * reach which definitions), then trials, each a changed function and the tests that reach
 * it. Both are cached per snapshot under `<runsDir>/<snapshot>/`, so generating again
 * runs nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Snapshot } from '../corpus/snapshot.js';
import { prepareWorkspace, putWorkspace } from '../corpus/workspace.js';
import type { Definition } from '../analysis/types.js';
import type { Sandbox, SandboxPool } from '../sandbox.js';
import { imageOf } from '../corpus/environment.js';
import { isTestFile, workspacePath, type RepoContext } from './context.js';
import { runTrials, TestRunError, traceTests, type TestResult, type TraceReport, type Trial, type TrialResult } from './pytest.js';

/** Tests a trial runs at most: the fastest that reach the function. */
export const MAX_TESTS_PER_FUNCTION = 20;
const TRACE_TIMEOUT_MS = 30 * 60_000;
const TRIAL_TIMEOUT_S = 60;
const TRIALS_PER_RUN = 25;

export interface ExecutionOptions {
  /** Sandboxes to run the tests in. */
  pool: SandboxPool;
  /** Prepared workspaces are cached here (the server's workspace cache, so graders reuse them). */
  cacheDir: string;
  /** Traces and trial results are cached here, under `<snapshot>/`. */
  runsDir: string;
  /** Sandboxes used at once. */
  workers?: number;
  /** pytest's arguments for the traced run: test paths relative to the repository root, `-k`, `-m` (default: all of it). */
  tests?: readonly string[];
  onProgress?: (event: { repo: string; phase: 'trace' | 'trials'; done: number; total: number }) => void;
}

/** The pristine snapshot as a workspace: the same archive for traces, trials and graders. */
export function pristineWorkspace(snapshot: Snapshot, cacheDir: string) {
  return prepareWorkspace({ instance_id: `snapshot.${snapshot.id.slice(0, 24)}`, edits: [] }, snapshot, cacheDir);
}

/** Copies the pristine snapshot to /workspace/<name> of a new sandbox. */
async function sandboxWithRepo(ctx: RepoContext, snapshot: Snapshot, options: ExecutionOptions): Promise<Sandbox> {
  const workspace = await pristineWorkspace(snapshot, options.cacheDir);
  const sandbox = await options.pool.acquire({ waitMs: 120_000, ...imageOf(ctx.ref) });
  try {
    await putWorkspace(sandbox, workspacePath(ctx.name), workspace);
    return sandbox;
  } catch (error) {
    await sandbox.release();
    throw error;
  }
}

export interface TestSuite {
  report: TraceReport;
  byId: Map<string, TestResult>;
  /** Passing tests that reach each definition, keyed `file:first line`, fastest first. */
  reach: Map<string, string[]>;
}

/** Whether the snapshot holds test modules at all (else nothing is run). */
export function hasTests(ctx: RepoContext): boolean {
  return ctx.analysis.modules.some((m) => isTestFile(m.file) && /(^|\/)test_[^/]*\.py$|_test\.py$/.test(m.file));
}

/** A snapshot's runs in its environment: the same files with other packages may run otherwise. */
function runsDir(options: ExecutionOptions, snapshot: Snapshot, ctx: RepoContext): string {
  const environment = ctx.ref.environment ? `.${ctx.ref.environment.slice(0, 16)}` : '';
  const tests = options.tests ? `.${createHash('sha256').update(options.tests.join('\n')).digest('hex').slice(0, 12)}` : '';
  return join(options.runsDir, `${snapshot.id}${environment}${tests}`);
}

async function writeJson(path: string, data: unknown): Promise<void> {
  await writeFile(`${path}.part`, JSON.stringify(data));
  await rename(`${path}.part`, path);
}

/** The suite last read or run, by cache file: both executed families of a repository use it. */
const suites = new Map<string, Promise<TestSuite>>();

/** The traced run of every test of the snapshot, from the cache or run now. */
export function traceSuite(ctx: RepoContext, snapshot: Snapshot, options: ExecutionOptions): Promise<TestSuite> {
  const key = join(runsDir(options, snapshot, ctx), 'trace.json');
  let suite = suites.get(key);
  if (!suite) {
    suites.clear();
    suite = loadSuite(ctx, snapshot, options);
    suites.set(key, suite);
    suite.catch(() => suites.delete(key));
  }
  return suite;
}

async function loadSuite(ctx: RepoContext, snapshot: Snapshot, options: ExecutionOptions): Promise<TestSuite> {
  const dir = runsDir(options, snapshot, ctx);
  const cached = join(dir, 'trace.json');
  let report: TraceReport;
  if (existsSync(cached)) report = JSON.parse(await readFile(cached, 'utf8')) as TraceReport;
  else {
    options.onProgress?.({ repo: ctx.name, phase: 'trace', done: 0, total: 1 });
    const sandbox = await sandboxWithRepo(ctx, snapshot, options);
    try {
      // No paths: pytest takes the project's own `testpaths`, else the whole repository.
      report = await traceTests(sandbox, options.tests ?? [], { cwd: workspacePath(ctx.name), timeoutMs: TRACE_TIMEOUT_MS });
    } finally {
      await sandbox.release();
    }
    await mkdir(dir, { recursive: true });
    await writeJson(cached, report);
    options.onProgress?.({ repo: ctx.name, phase: 'trace', done: 1, total: 1 });
  }
  const byId = new Map(report.tests.map((t) => [t.id, t]));
  const reach = new Map<string, string[]>();
  for (const [key, indexes] of Object.entries(report.reach)) {
    const passing = indexes.map((i) => report.traced[i]!).filter((id) => byId.get(id)?.outcome === 'passed');
    if (passing.length === 0) continue;
    passing.sort((a, b) => byId.get(a)!.ms - byId.get(b)!.ms || (a < b ? -1 : 1));
    reach.set(key, passing);
  }
  return { report, byId, reach };
}

/** The last line of a text that names an exception (`ModuleNotFoundError: No module named 'x'`), or its last line. */
export function errorLine(text: string): string {
  const lines = text.split('\n').map((l) => l.replace(/^E\s+/, '').trim()).filter(Boolean);
  return lines.findLast((l) => /^[\w.]*(?:Error|Exception|Exit|Interrupt)\b:?/.test(l)) ?? lines.at(-1) ?? '';
}

/**
 * Why a suite gives the executed families nothing to build on: no test passed. Says how the
 * run ended and the first error it reports (pytest's stderr, or a test's error).
 */
export function suiteProblem(suite: TestSuite): string | null {
  const { report } = suite;
  if (report.tests.some((t) => t.outcome === 'passed')) return null;
  const failed = report.tests.find((t) => t.error);
  const error = report.stderr ? errorLine(report.stderr) : failed?.error ? errorLine(`${failed.error.type}: ${failed.error.message}`) : '';
  const uncollected = report.tests.filter((t) => t.error?.type === 'CollectionError').length;
  const ran =
    report.tests.length === 0
      ? 'no test ran'
      : uncollected === report.tests.length
        ? `${uncollected} test module${uncollected === 1 ? '' : 's'} could not be collected`
        : `none of its ${report.tests.length - uncollected} tests passed`;
  return `the test run exited ${report.exit} (${ran})${error ? `: ${error.slice(0, 300)}` : ''}`;
}

/**
 * Why an executed family made nothing of a repository: the suite's problem, or the first step
 * that left nothing (no function reached, none qualified as a candidate, no candidate kept).
 */
export function whyNone(suite: TestSuite, reached: number, candidates: number, noCandidate: string, noneKept: string): string {
  const problem = suiteProblem(suite);
  if (problem) return problem;
  if (reached === 0) return 'no passing test reaches a uniquely named function outside the tests';
  return candidates === 0 ? noCandidate : noneKept;
}

/** Candidates in file order, then line order: the order trials run in (one module import per file). */
export function byPlace(a: { def: Definition; start: number }, b: { def: Definition; start: number }): number {
  return a.def.file < b.def.file ? -1 : a.def.file > b.def.file ? 1 : a.start - b.start;
}

/** The passing tests that reach a definition (at most MAX_TESTS_PER_FUNCTION), or none. */
export function testsReaching(suite: TestSuite, def: Definition): string[] {
  return (suite.reach.get(`${def.file}:${def.span.start}`) ?? []).slice(0, MAX_TESTS_PER_FUNCTION);
}

/** A trial's time limit: generous against the traced durations of its tests. */
export function trialTimeout(suite: TestSuite, tests: readonly string[]): number {
  const ms = tests.reduce((sum, id) => sum + (suite.byId.get(id)?.ms ?? 0), 0);
  return Math.min(TRIAL_TIMEOUT_S, Math.ceil(10 + (3 * ms) / 1000));
}

function trialKey(trial: Trial): string {
  return createHash('sha256').update(JSON.stringify(trial)).digest('hex');
}

/**
 * Runs trials (from the cache when already run), spread over `workers` sandboxes, each
 * holding the pristine snapshot: a trial changes code in memory, never on disk.
 */
export async function runTrialsCached(ctx: RepoContext, snapshot: Snapshot, trials: readonly Trial[], options: ExecutionOptions): Promise<TrialResult[]> {
  const dir = runsDir(options, snapshot, ctx);
  const cachePath = join(dir, 'trials.json');
  const cache: Record<string, TrialResult> = existsSync(cachePath) ? (JSON.parse(await readFile(cachePath, 'utf8')) as Record<string, TrialResult>) : {};
  const keys = trials.map(trialKey);
  const todo = [...new Set(keys.filter((k) => !(k in cache)))];
  const byKey = new Map(trials.map((t, i) => [keys[i]!, t]));
  const failedRuns = new Map<string, TrialResult>();
  if (todo.length > 0) {
    const batches: string[][] = [];
    // A group is never split: its trials share one collection and run on what the earlier ones left.
    for (const k of todo) {
      const last = batches.at(-1);
      const group = byKey.get(k)!.group;
      if (last && (last.length < TRIALS_PER_RUN || (group !== undefined && byKey.get(last.at(-1)!)!.group === group))) last.push(k);
      else batches.push([k]);
    }
    let done = 0;
    options.onProgress?.({ repo: ctx.name, phase: 'trials', done, total: todo.length });
    const worker = async () => {
      const sandbox = await sandboxWithRepo(ctx, snapshot, options);
      try {
        for (let batch = batches.shift(); batch; batch = batches.shift()) {
          try {
            const results = await runTrials(
              sandbox,
              batch.map((k) => byKey.get(k)!),
              { cwd: workspacePath(ctx.name), perTrialS: TRIAL_TIMEOUT_S, timeoutMs: (batch.length + 1) * (TRIAL_TIMEOUT_S + 5) * 1000 },
            );
            batch.forEach((k, i) => (cache[k] = results[i] ?? { skipped: 'no result' }));
          } catch (error) {
            // The batch's runner failed as a whole: its trials count as not run, and are not cached.
            if (!(error instanceof TestRunError)) throw error;
            for (const k of batch) failedRuns.set(k, { skipped: error.message });
          }
          done += batch.length;
          options.onProgress?.({ repo: ctx.name, phase: 'trials', done, total: todo.length });
        }
      } finally {
        await sandbox.release();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(options.workers ?? 2, batches.length)) }, worker));
    await mkdir(dir, { recursive: true });
    await writeJson(cachePath, cache);
  }
  return keys.map((k) => cache[k] ?? failedRuns.get(k) ?? { skipped: 'not run' });
}

/** The tests of a trial's result that did not pass (a test missing from the report did not). */
export function failedTests(result: TrialResult, tests: readonly string[]): TestResult[] {
  if ('skipped' in result) return [];
  const byId = new Map(result.tests.map((t) => [t.id, t]));
  return tests.map((id) => byId.get(id) ?? { id, outcome: 'error' as const, ms: 0 }).filter((t) => t.outcome === 'failed' || t.outcome === 'error');
}
