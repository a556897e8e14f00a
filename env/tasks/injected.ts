/**
 * issue_localize from injected bugs: one small semantic mutation of a function the tests
 * reach (env/tasks/mutate.ts), kept when some of those tests fail with it. The issue reads
 * like a user's report of the failure: the failing tests, the exception and a trimmed
 * traceback in which no frame points into the mutated function. It never names the
 * mutation. The workspace holds the mutated code; the gold is the mutated function and lines.
 */
import type { IssueLocalizeInstance } from '../../schemas/tasks.js';
import type { Snapshot } from '../corpus/snapshot.js';
import type { Definition } from '../analysis/types.js';
import { isTestFile, uniquelyNamed, type GenerateOptions, type RepoContext } from './context.js';
import { lineAt, splitLines } from './edits.js';
import { byPlace, failedTests, whyNone, runTrialsCached, testsReaching, traceSuite, trialTimeout, type ExecutionOptions } from './executed.js';
import { innermostAt, issueInstance } from './issue-localize.js';
import { applyMutation, mutationsOf, type Mutation } from './mutate.js';
import type { TestResult, Trial } from './pytest.js';
import type { Rng } from './rng.js';

const FRAMES_SHOWN = 6;
const MESSAGE_LINES = 12;
const TESTS_LISTED = 5;

interface Candidate {
  def: Definition;
  mutation: Mutation;
  mutated: string;
  tests: string[];
  /** Lines of the mutation in the snapshot, and how many lines it adds (negative: removes). */
  start: number;
  end: number;
  delta: number;
}

/** One mutation of a random kind among those the function admits, or null. */
function pickMutation(source: string, def: Definition, rng: Rng): { mutation: Mutation; mutated: string } | null {
  const all = mutationsOf(source, def);
  const kinds = [...new Set(all.map((m) => m.kind))];
  for (const kind of rng.shuffle(kinds)) {
    for (const mutation of rng.shuffle(all.filter((m) => m.kind === kind))) {
      const mutated = applyMutation(source, mutation);
      if (mutated !== null) return { mutation, mutated };
    }
  }
  return null;
}

const TITLES = [(t: string) => `\`${t}\` fails`, (t: string, e: string) => `${e} in ${t}`, (t: string) => `Test failure: ${t}`];
const INTROS = [
  'Running the test suite on a clean checkout, these tests fail:',
  'The following tests fail for me:',
  'Some tests no longer pass:',
];
const CLOSINGS = ['I expected these tests to pass.', 'Expected: the tests pass. I have not found the cause.', 'They used to pass.'];

/** The issue text for the failures of a mutation, as a user would write it. */
export function writeIssue(failures: readonly TestResult[], hidden: { file: string; start: number; end: number }, rng: Rng): string {
  const first = failures.find((f) => f.error) ?? failures[0]!;
  const short = first.id.split('::').slice(1).join('::') || first.id;
  const errorType = first.error?.type ?? 'Error';
  const title = TITLES[rng.int(TITLES.length)]!(short, errorType);
  const listed = failures.slice(0, TESTS_LISTED).map((f) => `    ${f.id}`);
  if (failures.length > TESTS_LISTED) listed.push(`    (and ${failures.length - TESTS_LISTED} more)`);
  const out = [title, '', INTROS[rng.int(INTROS.length)]!, '', ...listed, ''];
  if (first.error) {
    const frames = first.error.frames.filter((f) => !(f.file === hidden.file && f.line >= hidden.start && f.line <= hidden.end)).slice(-FRAMES_SHOWN);
    const message = first.error.message
      .split('\n')
      .slice(0, MESSAGE_LINES)
      .map((l) => (l.length > 300 ? `${l.slice(0, 300)}...` : l));
    out.push(`Running \`python -m pytest '${first.id}'\`:`, '', '```', 'Traceback (most recent call last):');
    for (const f of frames) {
      out.push(`  File "${f.file}", line ${f.line}, in ${f.name}`);
      const source = f.source.split('\n')[0]?.trim();
      if (source) out.push(`    ${source.length > 200 ? `${source.slice(0, 200)}...` : source}`);
    }
    out.push(...message, '```', '');
  }
  out.push(CLOSINGS[rng.int(CLOSINGS.length)]!);
  return out.join('\n');
}

export async function generateInjected(ctx: RepoContext, snapshot: Snapshot, options: GenerateOptions, execution: ExecutionOptions): Promise<IssueLocalizeInstance[]> {
  const suite = await traceSuite(ctx, snapshot, execution);
  const unique = uniquelyNamed(ctx.analysis);
  const candidates: Candidate[] = [];
  let reached = 0;
  for (const module of ctx.analysis.modules) {
    if (isTestFile(module.file)) continue;
    const source = await ctx.source(module.file);
    const lineCount = splitLines(source).length;
    for (const def of module.definitions) {
      if (def.kind === 'class' || !unique.has(`${def.file}:${def.qualname}`)) continue;
      const tests = testsReaching(suite, def);
      if (tests.length === 0) continue;
      reached++;
      const picked = pickMutation(source, def, options.rng);
      if (!picked) continue;
      const start = lineAt(source, picked.mutation.startIndex);
      const end = lineAt(source, picked.mutation.endIndex);
      // The gold function is the innermost definition at the change (a nested one may hold
      // it); its name must be unique in the file for grading to tell it apart.
      const inner = innermostAt(module.definitions, start);
      if (!inner || !unique.has(`${def.file}:${inner.qualname}`)) continue;
      candidates.push({ def, ...picked, tests, start, end, delta: splitLines(picked.mutated).length - lineCount });
    }
  }
  const picked = options.rng.shuffle(candidates).slice(0, Math.ceil(options.maxPerRepo * 1.6));
  picked.sort(byPlace);
  const trials: Trial[] = picked.map((c) => ({ changes: [{ file: c.def.file, qualname: c.def.qualname, source: c.mutated, code_line: c.def.span.start }], tests: c.tests, timeout: trialTimeout(suite, c.tests) }));
  const results = await runTrialsCached(ctx, snapshot, trials, execution);
  const instances: IssueLocalizeInstance[] = [];
  picked.forEach((c, i) => {
    if (instances.length >= options.maxPerRepo) return;
    const failures = failedTests(results[i]!, c.tests);
    if (failures.length === 0) return;
    const end = c.end + c.delta;
    const issue = writeIssue(failures, { file: c.def.file, start: c.def.span.start, end: c.def.span.end + c.delta }, options.rng);
    const text = splitLines(c.mutated)
      .slice(c.start - 1, end)
      .join('');
    const instance = issueInstance(ctx, { source: 'injected', sourceId: `${c.def.file}:${c.def.qualname}:${c.mutation.kind}:${c.start}`, issue, lines: [{ file: c.def.file, start: c.start, end: Math.max(c.start, end) }] });
    if (!instance) return;
    instances.push({
      ...instance,
      edits: [{ file: c.def.file, start: c.start, end: c.end, text }],
      seed: options.seed,
    });
  });
  if (instances.length === 0) {
    options.explain?.(whyNone(suite, reached, candidates.length, `none of the ${reached} functions that passing tests reach takes a mutation`, `no mutation of the ${picked.length} tried made a test fail`));
  }
  return instances;
}
