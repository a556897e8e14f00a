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
import type { Snapshot } from '../corpus/snapshot.js';
import { parsePython, type SyntaxNode } from '../analysis/parse.js';
import type { Definition } from '../analysis/types.js';
import type { Sandbox } from '../sandbox.js';
import { instanceId, isTestFile, uniquelyNamed, workspacePath, type GenerateOptions, type RepoContext } from './context.js';
import { byPlace, failedTests, pristineWorkspace, runTrialsCached, testsReaching, traceSuite, trialTimeout, type ExecutionOptions } from './executed.js';
import { applyEdit, splitLines } from './edits.js';
import { definitionsOf, type GradeResult } from './grade.js';
import { runScript, runTests, TestRunError, type Trial } from './pytest.js';

export const PLACEHOLDER = 'raise NotImplementedError';
/** Bodies longer than this (after the docstring) are not asked for. */
const MAX_BODY_LINES = 40;
const DEFAULT_TIMEOUT_S = 120;

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
  for (const module of ctx.analysis.modules) {
    if (isTestFile(module.file)) continue;
    const source = await ctx.source(module.file);
    for (const def of module.definitions) {
      if (!unique.has(`${def.file}:${def.qualname}`)) continue;
      const tests = testsReaching(suite, def);
      if (tests.length === 0) continue;
      const candidate = candidateOf(def, source);
      if (candidate && !harnessUse(source, def) && !('error' in parsePython(applyEdit(source, { start: candidate.start, end: candidate.end, text: candidate.placeholder })))) candidates.push({ ...candidate, tests });
    }
  }
  const picked = options.rng.shuffle(candidates).slice(0, Math.ceil(options.maxPerRepo * 1.5));
  picked.sort(byPlace);
  const trials: Trial[] = picked.map((c) => ({
    changes: [{ file: c.def.file, qualname: c.def.qualname, source: applyEdit(c.source, { start: c.start, end: c.end, text: c.placeholder }), code_line: c.def.span.start }],
    tests: c.tests,
    timeout: trialTimeout(suite, c.tests),
  }));
  const results = await runTrialsCached(ctx, snapshot, trials, execution);
  const instances: FuncGenInstance[] = [];
  picked.forEach((c, i) => {
    if (instances.length >= options.maxPerRepo) return;
    if (failedTests(results[i]!, c.tests).length === 0) return;
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

/** Where grading reads the workspace and runs the tests. */
export interface ExecutionGradeContext {
  sandbox: Sandbox;
  /** The workspace root in the sandbox. */
  root: string;
  snapshot: Snapshot;
  cacheDir: string;
}

/** The agent's definition of the target, as whole lines of its file; or why there is none. */
function agentDefinition(instance: FuncGenInstance, text: string | null): { text: string } | { rule: string; detail: string } {
  if (text === null) return { rule: 'target_missing', detail: `${instance.gold.file} is missing or unreadable` };
  const parsed = parsePython(text);
  if ('error' in parsed) return { rule: 'does_not_parse', detail: `${instance.gold.file} does not parse` };
  const def = definitionsOf(instance.gold.file, text).get(instance.gold.qualname);
  if (!def || def.kind === 'class') return { rule: 'target_missing', detail: `${instance.gold.qualname} is not defined in ${instance.gold.file}` };
  const used = harnessUse(text, def);
  if (used) return { rule: 'harness_access', detail: `the implementation uses \`${used}\`, which reaches into the test harness` };
  return { text: splitLines(text).slice(def.span.start - 1, def.span.end).join('') };
}

/**
 * A RepoST evaluation script with the agent's function added as `<name>_new_implementation`:
 * before the script's `if __name__ == "__main__":` block, or at its end.
 */
export function repostScript(script: string, definition: string, qualname: string): string {
  const name = qualname.split('.').pop()!;
  const renamed = definition.replace(new RegExp(`^(\\s*(?:async\\s+)?def\\s+)${name}(\\s*\\()`, 'm'), `$1${name}_new_implementation$2`);
  const main = /^if\s+__name__\s*==/m.exec(script);
  const at = main ? main.index : script.length;
  const head = script.slice(0, at);
  return `${head}${head.endsWith('\n') || head === '' ? '' : '\n'}\n${renamed.endsWith('\n') ? renamed : `${renamed}\n`}\n${script.slice(at)}`;
}

export async function gradeFuncGen(instance: FuncGenInstance, exec: ExecutionGradeContext): Promise<GradeResult> {
  const { file, qualname } = instance.gold;
  let tests = instance.gold.tests;
  const read = await exec.sandbox.readFile(`${exec.root}/${file}`, { maxBytes: 8 * 2 ** 20 });
  const agent = agentDefinition(instance, read.kind === 'file' && typeof read.text === 'string' ? read.text : null);
  if ('rule' in agent) return { reward: 0, info: { rule: agent.rule, detail: agent.detail, tests: tests.length, passed: 0, pass_fraction: 0 } };
  const pristine = await pristineWorkspace(exec.snapshot, exec.cacheDir);
  const original = await pristine.read(file);
  const def = original === null ? undefined : definitionsOf(file, original).get(qualname);
  if (original === null || !def) throw new Error(`func_gen ${instance.instance_id}: ${file}:${qualname} is not in the snapshot`);
  const graded = applyEdit(original, { start: def.span.start, end: def.span.end, text: agent.text.endsWith('\n') ? agent.text : `${agent.text}\n` });

  // Every process of the agent is ended by the first fresh exec, before the copy is made.
  const dir = `/tmp/hgym-grade-${randomBytes(8).toString('hex')}`;
  const repo = `${dir}/${instance.repo.name}`;
  await exec.sandbox.exec('true', { timeoutMs: 30_000, fresh: { cwd: '/' } });
  await exec.sandbox.putArchive(repo, await pristine.archive());
  await exec.sandbox.writeFile(`${repo}/${file}`, graded);
  const started = performance.now();
  const script = instance.gold.eval_script;
  if (script) {
    await exec.sandbox.writeFile(`${dir}/eval_script.py`, repostScript(script, agent.text, qualname));
    tests = ['eval_script'];
  }
  let report;
  try {
    const options = { cwd: repo, timeoutMs: instance.timeout_s * 1000 };
    report = script ? await runScript(exec.sandbox, `${dir}/eval_script.py`, options) : await runTests(exec.sandbox, tests, options);
  } catch (error) {
    // The runner's process ended without a report: the code under test ended it (os._exit, a
    // crash of the interpreter). A sandbox that failed raises a coded error instead.
    if (!(error instanceof TestRunError)) throw error;
    return { reward: 0, info: { rule: 'test_run_crashed', detail: error.output.slice(-1000), tests: tests.length, passed: 0, pass_fraction: 0 } };
  }
  const ms = Math.round(performance.now() - started);
  if (report === null) return { reward: 0, info: { rule: 'timeout', timeout_s: instance.timeout_s, tests: tests.length, passed: 0, pass_fraction: 0, ms } };
  const byId = new Map(report.tests.map((t) => [t.id, t]));
  const failing = tests.filter((id) => byId.get(id)?.outcome !== 'passed');
  const passed = tests.length - failing.length;
  const fraction = tests.length === 0 ? 0 : passed / tests.length;
  return {
    reward: failing.length === 0 && tests.length > 0 ? 1 : 0,
    info: {
      rule: failing.length === 0 ? 'tests_pass' : 'tests_fail',
      tests: tests.length,
      passed,
      pass_fraction: Math.round(fraction * 1000) / 1000,
      failing: failing.slice(0, 10).map((id) => ({ id, outcome: byId.get(id)?.outcome ?? 'not_run', error: byId.get(id)?.error?.message.split('\n')[0] ?? null })),
      ms,
    },
  };
}
