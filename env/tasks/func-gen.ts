/**
 * func_gen: a function whose body the repository's tests exercise loses its body (signature
 * and docstring kept, `raise NotImplementedError` in its place); the agent implements it.
 *
 * Generation keeps a function only when the traced test run shows passing tests that reach
 * it and, with the placeholder in place, at least one of those tests fails: so the
 * placeholder itself never scores.
 *
 * Grading runs those tests in a clean copy of the snapshot in which only the target
 * function's definition is taken from the agent's workspace. Nothing else the agent did
 * (edited tests, a conftest.py, a changed helper module, files left in /tmp, processes left
 * running) takes part. Reward 1 when every test passes; `info.pass_fraction` for shaping.
 */
import { randomBytes } from 'node:crypto';
import type { FuncGenInstance } from '../../schemas/tasks.js';
import { HgymError } from '../errors.js';
import type { Snapshot } from '../corpus/snapshot.js';
import { imageOf } from '../corpus/environment.js';
import { parsePython, type SyntaxNode } from '../analysis/parse.js';
import { pythonText } from '../analysis/python-text.js';
import type { Definition } from '../analysis/types.js';
import { SandboxFileError, type Sandbox, type SandboxPool } from '../sandbox.js';
import { prepareWorkspace, putWorkspace, type PreparedWorkspace } from '../corpus/workspace.js';
import { instanceId, isTestFile, uniquelyNamed, workspacePath, type GenerateOptions, type RepoContext } from './context.js';
import { screenCandidates } from './degenerate.js';
import { byPlace, whyNone, pristineWorkspace, testsReaching, traceSuite, type ExecutionOptions } from './executed.js';
import { applyEdit, splitLines } from './edits.js';
import { CHECK_MS, definitionsOf, type GradeResult } from './grade.js';
import { pythonFacts } from './python-facts.js';
import { runSealed, type SealedRun } from './sealed.js';

export const PLACEHOLDER = 'raise NotImplementedError';
/** Bodies longer than this (after the docstring) are not asked for. */
const MAX_BODY_LINES = 40;
const DEFAULT_TIMEOUT_S = 120;
/** How long grading waits for a fresh sandbox; graders go ahead of resets in the queue. */
const GRADING_WAIT_MS = 120_000;

interface Candidate {
  def: Definition;
  source: string;
  /** Lines of the body after the docstring: what the placeholder replaces. */
  start: number;
  end: number;
  body: string;
  placeholder: string;
  tests: string[];
}

/**
 * The placeholder for a function: the lines after its docstring (or its whole body when it has
 * none and `docstring` is not required) replaced; null when the function does not qualify.
 */
export function candidateOf(def: Definition, source: string, docstring: 'required' | 'optional' = 'required'): Omit<Candidate, 'tests'> | null {
  const doc = def.docstring;
  if (def.kind === 'class') return null;
  if (doc ? !doc.ownLines || !doc.hasFollowingStatements || doc.nextIsString : docstring === 'required') return null;
  const start = doc ? doc.span.end + 1 : def.body.start;
  const end = def.body.end;
  if (end < start || end - start + 1 > MAX_BODY_LINES) return null;
  const all = splitLines(source);
  const body = all.slice(start - 1, end).join('');
  const trimmed = body.replace(/#.*$/gm, '').trim();
  // Already a stub: nothing to implement.
  if (/^(pass|\.\.\.|raise NotImplementedError(\(.*\))?|return|return None)$/.test(trimmed)) return null;
  const indent = /^[ \t]*/.exec(all[(doc ? doc.span.start : start) - 1] ?? '')![0];
  return { def, source, start, end, body: body.endsWith('\n') ? body : `${body}\n`, placeholder: `${indent}${PLACEHOLDER}\n` };
}

export function instruction(repo: string, def: Definition): string {
  const what = def.kind === 'method' ? 'method' : 'function';
  return [
    `In the repository at ${workspacePath(repo)}, the ${what} \`${def.qualname}\` in \`${def.file}\` has no implementation: ${def.docstring ? 'after its docstring, ' : ''}its body is \`${PLACEHOLDER}\`.`,
    '',
    `Implement it so that it does what its signature, its docstring and the code that uses it say. The repository's tests will be run against your implementation.`,
    `Only the definition of \`${def.qualname}\` is taken from your workspace when grading; every other file is restored first, so put everything it needs inside it. Call finish when you are done.`,
  ].join('\n');
}

export async function generateFuncGen(ctx: RepoContext, snapshot: Snapshot, options: GenerateOptions, execution: ExecutionOptions): Promise<FuncGenInstance[]> {
  const suite = await traceSuite(ctx, snapshot, execution);
  const unique = uniquelyNamed(ctx.analysis);
  const candidates: Candidate[] = [];
  let reached = 0;
  for (const module of ctx.analysis.modules) {
    if (isTestFile(module.file)) continue;
    const source = await ctx.source(module.file);
    for (const def of module.definitions) {
      if (!unique.has(`${def.file}:${def.qualname}`)) continue;
      const tests = testsReaching(suite, def);
      if (tests.length === 0) continue;
      reached++;
      const candidate = candidateOf(def, source);
      if (candidate && !harnessUse(source, def) && !('error' in parsePython(applyEdit(source, { start: candidate.start, end: candidate.end, text: candidate.placeholder })))) candidates.push({ ...candidate, tests });
    }
  }
  // The placeholder and each degenerate body (env/tasks/degenerate.ts) must fail some test.
  // Screened in rounds, in the seeded order: 1.5 times the cap first, then, while fewer than
  // the cap were kept, twice what is missing, so weak tests cost more trials only where needed.
  const order = options.rng.shuffle(candidates);
  const kept: Candidate[] = [];
  let next = 0;
  for (let round = 0; round < 3 && kept.length < options.maxPerRepo && next < order.length; round++) {
    const wanted = round === 0 ? Math.ceil(options.maxPerRepo * 1.5) : 2 * (options.maxPerRepo - kept.length);
    const picked = order.slice(next, next + wanted).sort(byPlace);
    next += wanted;
    const screened = await screenCandidates(ctx, snapshot, picked, suite, execution);
    kept.push(...picked.filter((_, i) => screened[i]!.keep));
  }
  kept.sort(byPlace);
  const instances: FuncGenInstance[] = [];
  kept.forEach((c) => {
    if (instances.length >= options.maxPerRepo) return;
    instances.push({
      instance_id: instanceId('func_gen', ctx, [c.def.file, c.def.qualname]),
      task: 'func_gen',
      repo: ctx.ref,
      source: 'traced',
      timeout_s: DEFAULT_TIMEOUT_S,
      instruction: instruction(ctx.name, c.def),
      edits: [{ file: c.def.file, start: c.start, end: c.end, text: c.placeholder }],
      seed: options.seed,
      gold: { file: c.def.file, qualname: c.def.qualname, line: c.def.defLine, body: c.body, tests: c.tests },
    });
  });
  if (instances.length === 0) {
    const noCandidate = `none of the ${reached} functions that passing tests reach has a docstring on its own lines and a body of at most ${MAX_BODY_LINES} lines to write`;
    const noneKept = `none of the ${Math.min(next, order.length)} candidates tried has a test that fails under the placeholder and under every degenerate body`;
    options.explain?.(whyNone(suite, reached, candidates.length, noCandidate, noneKept));
  }
  return instances;
}

/** What `traceSuite` and trials found, for reports: functions reached and kept. */
export interface FuncGenStats {
  reached: number;
  candidates: number;
  kept: number;
}

/**
 * Names whose use reaches into the test run itself (the runner's process, its report, pytest,
 * the interpreter's frames and modules) rather than computing a result. An implementation
 * that uses one scores 0 without running the tests; functions whose own code uses one are
 * never picked.
 */
export const HARNESS_NAMES: ReadonlySet<string> = new Set([
  'pytest', '_pytest', 'unittest', 'atexit', 'os', 'subprocess', 'signal', 'ctypes', 'gc', 'inspect', 'importlib', 'builtins', '__builtins__',
  '__import__', 'exec', 'eval', 'compile', 'open', 'globals', 'vars', 'argv', 'orig_argv', '_exit', 'kill', 'killpg', 'abort', 'modules',
  '_getframe', 'settrace', 'setprofile', 'f_back', 'f_globals', 'f_locals', 'f_code', 'tb_frame', 'gi_frame', 'cr_frame',
]);

/** The first harness name the definition's text uses (decorators and defaults included), or null. */
export function harnessUse(source: string, def: Definition): string | null {
  const parsed = parsePython(source);
  if ('error' in parsed) return null;
  let node: SyntaxNode | null = parsed.tree.rootNode.descendantForIndex(def.span.startIndex, def.span.endIndex - 1);
  while (node && (node.startIndex > def.span.startIndex || node.endIndex < def.span.endIndex)) node = node.parent;
  for (const id of (node ?? parsed.tree.rootNode).descendantsOfType('identifier')) if (HARNESS_NAMES.has(id.text)) return id.text;
  return null;
}

/** Where func_gen grading runs: a fresh sandbox of the pool, never the agent's own. */
export interface ExecutionGradeContext {
  pool: SandboxPool;
  snapshot: Snapshot;
  cacheDir: string;
}

/**
 * What grading takes from the agent's sandbox: the text of the target's file, read by the
 * sandbox without following a link or blocking on a special file; null when there is none.
 */
export async function readSubmission(instance: FuncGenInstance, sandbox: Sandbox, root: string): Promise<string | null> {
  try {
    const read = await sandbox.readFile(`${root}/${instance.gold.file}`, { maxBytes: 8 * 2 ** 20, noFollow: true });
    return read.kind === 'file' && typeof read.text === 'string' ? read.text : null;
  } catch (error) {
    // The agent's own doing (a file it made unreadable): graded as a missing target.
    if (error instanceof SandboxFileError) return null;
    throw error;
  }
}

/** The text from the first decorator to the colon that opens the body, spacing aside. */
function header(text: string, def: Definition): string {
  return text.slice(def.span.startIndex, def.body.startIndex).replace(/\s+/g, ' ').trim();
}

/**
 * The agent's definition of the target, as whole lines of its file; or why there is none.
 * Its decorators and signature must be those it was given: they run when the module is
 * imported, outside the function, where no guard could tell them from the harness.
 */
function agentDefinition(instance: FuncGenInstance, submitted: string | null, given: string): { text: string } | { rule: string; detail: string } {
  if (submitted === null) return { rule: 'target_missing', detail: `${instance.gold.file} is missing or unreadable` };
  // Cut from the text Python reads, and only where the parse shows what Python reads (code after a lone CR in a comment runs).
  // From the facts cache: a file the agent left as given was parsed when the episode was reset.
  const facts = pythonFacts(instance.gold.file, submitted, CHECK_MS * 1000);
  if (facts.timedOut) return { rule: 'does_not_parse', detail: `${instance.gold.file} takes longer than ${CHECK_MS} ms to parse` };
  if (facts.distrust) return { rule: 'python_disagrees', detail: `Python does not read ${instance.gold.file} as its parse shows: ${facts.distrust}` };
  if (facts.skeleton === null) return { rule: 'does_not_parse', detail: `${instance.gold.file} does not parse` };
  const text = pythonText(submitted);
  const def = definitionsOf(instance.gold.file, text, CHECK_MS * 1000).get(instance.gold.qualname);
  if (!def || def.kind === 'class') return { rule: 'target_missing', detail: `${instance.gold.qualname} is not defined in ${instance.gold.file}` };
  const original = definitionsOf(instance.gold.file, given).get(instance.gold.qualname);
  if (!original || header(text, def) !== header(given, original)) {
    return { rule: 'signature_changed', detail: `the decorators or the signature of ${instance.gold.qualname} differ from those given; only its body is to be written` };
  }
  return { text: splitLines(text).slice(def.span.start - 1, def.span.end).join('') };
}

/**
 * A RepoST evaluation script with the agent's function added as `<name>_new_implementation`:
 * before the script's `if __name__ == "__main__":` block, or at its end; with the lines the
 * function occupies in the script.
 */
export function repostScript(script: string, definition: string, qualname: string): { text: string; first: number; last: number } {
  const name = qualname.split('.').pop()!;
  const renamed = definition.replace(new RegExp(`^(\\s*(?:async\\s+)?def\\s+)${name}(\\s*\\()`, 'm'), `$1${name}_new_implementation$2`);
  const main = /^if\s+__name__\s*==/m.exec(script);
  const at = main ? main.index : script.length;
  const head = `${script.slice(0, at)}${script.slice(0, at).endsWith('\n') || at === 0 ? '' : '\n'}\n`;
  const body = renamed.endsWith('\n') ? renamed : `${renamed}\n`;
  const first = splitLines(head).length + 1;
  return { text: `${head}${body}\n${script.slice(at)}`, first, last: first + splitLines(body).length - 1 };
}

/** The tests a grade names: the first MAX_TEST_IDS of them, so a grade stays small. */
const MAX_TEST_IDS = 50;

function zero(rule: string, tests: readonly string[], extra: Record<string, unknown> = {}): GradeResult {
  return { reward: 0, info: { rule, ...extra, tests: tests.length, test_ids: tests.slice(0, MAX_TEST_IDS), passed: 0, pass_fraction: 0 } };
}

/**
 * Grades the agent's file text: the instance's tests run, in a sandbox the agent never
 * touched, against the snapshot with only the target's definition taken from that text.
 */
export async function gradeFuncGen(instance: FuncGenInstance, submission: string | null, exec: ExecutionGradeContext): Promise<GradeResult> {
  const { file, qualname } = instance.gold;
  const script = instance.gold.eval_script;
  const tests = script ? ['eval_script'] : instance.gold.tests;
  if (tests.length === 0) return zero('no_tests', tests);
  const given = await (await prepareWorkspace(instance, exec.snapshot, exec.cacheDir)).read(file);
  if (given === null) throw new Error(`func_gen ${instance.instance_id}: ${file} is not in its workspace`);
  const agent = agentDefinition(instance, submission, given);
  if ('rule' in agent) return zero(agent.rule, tests, { detail: agent.detail });
  const pristine = await pristineWorkspace(exec.snapshot, exec.cacheDir);
  const original = await pristine.read(file);
  const def = original === null ? undefined : definitionsOf(file, original).get(qualname);
  if (original === null || !def) throw new Error(`func_gen ${instance.instance_id}: ${file}:${qualname} is not in the snapshot`);
  const graded = applyEdit(original, { start: def.span.start, end: def.span.end, text: agent.text.endsWith('\n') ? agent.text : `${agent.text}\n` });
  const repo = workspacePath(instance.repo.name);
  const test = { instance, repo, pristine, graded, agentText: agent.text, first: def.span.start, script, tests };
  let run = await runGraded(exec, test, true);
  // A run at the least CPU weight that ran out of time may only have waited for CPU (episodes
  // that still step take it first): its verdict is a run at the default weight's. A submission
  // can always ask for that run by never ending, so the pool having no sandbox for it keeps the
  // first verdict: never an error the agent could turn its 0 into.
  if (run.kind === 'timeout' && run.background) {
    const first = run;
    run = await runGraded(exec, test, false).catch((err: unknown) => {
      if (err instanceof HgymError && err.code === 'HGYM_ERR_CAPACITY') return first;
      throw err;
    });
  }
  return gradeRun(run, tests, instance.timeout_s);
}

interface GradedTest {
  instance: FuncGenInstance;
  repo: string;
  pristine: PreparedWorkspace;
  /** The snapshot's file with the agent's definition in place of the target's. */
  graded: string;
  agentText: string;
  /** The target definition's first line in the snapshot's file. */
  first: number;
  script: string | undefined;
  tests: readonly string[];
}

/**
 * The instance's tests, run once in a fresh sandbox on the snapshot with the graded file;
 * `background`: at the engine's least CPU weight, and whether it ran so.
 */
async function runGraded(exec: ExecutionGradeContext, test: GradedTest, background: boolean): Promise<SealedRun & { background: boolean }> {
  const { instance, repo, script } = test;
  const { file, qualname } = instance.gold;
  const sandbox = await exec.pool.acquire({ waitMs: GRADING_WAIT_MS, priority: true, ...imageOf(instance.repo) });
  try {
    const lowered = background && (await sandbox.background?.()) === true;
    await putWorkspace(sandbox, repo, test.pristine, { git: false });
    await sandbox.writeFile(`${repo}/${file}`, test.graded);
    const options = { cwd: repo, timeoutMs: instance.timeout_s * 1000 };
    if (script) {
      const path = `/tmp/hgym-eval-${randomBytes(8).toString('hex')}.py`;
      const made = repostScript(script, test.agentText, qualname);
      await sandbox.writeFile(path, made.text);
      return { ...(await runSealed(sandbox, { script: path }, { path, first: made.first, last: made.last }, options)), background: lowered };
    }
    const last = test.first + splitLines(test.agentText).length - 1;
    return { ...(await runSealed(sandbox, { tests: test.tests }, { path: `${repo}/${file}`, first: test.first, last }, options)), background: lowered };
  } finally {
    await sandbox.release();
  }
}

/** The reward of a sealed run: 1 only when it ended normally with every test passed. */
export function gradeRun(run: SealedRun, tests: readonly string[], timeoutS: number): GradeResult {
  const ms = run.ms;
  if (run.kind === 'forged') return zero('report_forged', tests, { detail: `line ${run.line} of the sealed report does not verify`, ms });
  if (run.violations.length > 0) return zero('harness_access', tests, { detail: run.violations.slice(0, 5), ms });
  if (run.kind === 'timeout') return zero('timeout', tests, { timeout_s: timeoutS, ms });
  if (run.kind === 'crashed') return zero('test_run_crashed', tests, { detail: run.detail, ms });
  const outcomes = new Map<string, string>();
  for (const t of run.tests) outcomes.set(t.id, outcomes.has(t.id) && outcomes.get(t.id) !== t.outcome ? 'conflicting' : t.outcome);
  const failing = tests.filter((id) => outcomes.get(id) !== 'passed');
  const passed = tests.length - failing.length;
  const byId = new Map(run.tests.map((t) => [t.id, t]));
  const breakdown = {
    tests: tests.length,
    test_ids: tests.slice(0, MAX_TEST_IDS),
    passed,
    pass_fraction: Math.round((passed / tests.length) * 1000) / 1000,
    failing: failing.slice(0, 10).map((id) => ({ id, outcome: outcomes.get(id) ?? 'not_run', error: byId.get(id)?.error?.message.split('\n')[0] ?? null })),
    ms,
  };
  // pytest's exit 2 is an interrupted session (KeyboardInterrupt, pytest.exit), 3 and 4 its
  // own failures, 5 nothing collected: none of them is a run that ended normally.
  if (run.exit !== 0 && run.exit !== 1) return { reward: 0, info: { rule: run.exit === 2 ? 'interrupted' : 'test_run_failed', exit: run.exit, ...breakdown, passed: 0, pass_fraction: 0 } };
  return { reward: failing.length === 0 ? 1 : 0, info: { rule: failing.length === 0 ? 'tests_pass' : 'tests_fail', ...breakdown } };
}
