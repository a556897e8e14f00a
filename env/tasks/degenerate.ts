/**
 * Degenerate implementations: bodies that do no work, tried on every func_gen candidate so that
 * an instance whose tests they pass is never generated (DESIGN §9). A test that only checks
 * `f(x) == y` is passed by an object equal to everything; `f(x) is None` by `return None`;
 * `not f(x)` by any empty value; a test whose input is already the answer by returning it.
 *
 * The placeholder and the degenerate bodies of a candidate run as one group of trials: the
 * runner collects the candidate's tests once, then runs them once per body in a forked child,
 * each time only the tests no earlier body passed, and none once no test is left. Screening
 * costs one collection per candidate and, per body, a run of the tests still in question.
 */
import type { Snapshot } from '../corpus/snapshot.js';
import { parsePython, type SyntaxNode } from '../analysis/parse.js';
import type { Definition } from '../analysis/types.js';
import type { RepoContext } from './context.js';
import { applyEdit } from './edits.js';
import { runTrialsCached, trialTimeout, type ExecutionOptions, type TestSuite } from './executed.js';
import type { Trial, TrialResult } from './pytest.js';

export const DEGENERATES = [
  'anything', 'none', 'first_argument', 'true', 'false', 'zero', 'empty_string', 'empty_list', 'empty_dict', 'empty_set',
  // Generator functions stay generators: these replace the ones above for them.
  'no_items', 'anything_once', 'first_argument_items',
] as const;
export type DegenerateName = (typeof DEGENERATES)[number];

/**
 * An object that compares equal (and less, and greater) to everything, contains everything,
 * is true, is an empty iterable whose `next()` is itself, and answers every attribute, call,
 * subscript and operator with itself: what makes `f(x) == y`, `f(x)`, `y in f(x)`,
 * `f(x).attr == y`, `f(x)[0] == y`, `abs(f(x) - y) < eps` and `f(x) is not None` hold.
 * Dunder names stay missing, so protocol probes (`hasattr(x, '__array__')`) see a plain object.
 */
const ANYTHING = [
  'class _Anything:',
  '    def __eq__(self, other): return True',
  '    def __ne__(self, other): return False',
  '    __lt__ = __le__ = __gt__ = __ge__ = __contains__ = __eq__',
  '    def __hash__(self): return 0',
  '    def __bool__(self): return True',
  '    def __len__(self): return 0',
  '    def __iter__(self): return iter(())',
  '    def __call__(self, *args, **kwargs): return self',
  '    __next__ = __getitem__ = __enter__ = __round__ = __call__',
  '    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __matmul__ = __rmatmul__ = __call__',
  '    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __pow__ = __rpow__ = __call__',
  '    __and__ = __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = __lshift__ = __rshift__ = __call__',
  '    __neg__ = __pos__ = __abs__ = __invert__ = __call__',
  '    def __setitem__(self, key, value): pass',
  '    def __delitem__(self, key): pass',
  '    def __exit__(self, *exc): return False',
  '    def __getattr__(self, name):',
  "        if name.startswith('__'):",
  '            raise AttributeError(name)',
  '        return self',
];

/** A local name no parameter is likely to have, for the loop of `first_argument_items`. */
const ITEM = '_hgym_item';

/** What the degenerate bodies of a function depend on. */
export interface FunctionShape {
  /** Its own body yields (nested definitions aside): a generator or an async generator. */
  generator: boolean;
  /** The first parameter a caller passes (after self/cls), or null when there is none. */
  firstArgument: string | null;
}

/** The function definition node of `def` in the parse of `source`, or null. */
function functionNode(source: string, def: Definition): SyntaxNode | null {
  const parsed = parsePython(source);
  if ('error' in parsed) return null;
  let node: SyntaxNode | null = parsed.tree.rootNode.descendantForIndex(def.span.startIndex, def.span.endIndex - 1);
  while (node && (node.startIndex > def.span.startIndex || node.endIndex < def.span.endIndex)) node = node.parent;
  if (node?.type === 'decorated_definition') node = node.childForFieldName('definition');
  return node?.type === 'function_definition' ? node : null;
}

function yields(node: SyntaxNode): boolean {
  if (node.type === 'yield') return true;
  if (node.type === 'function_definition' || node.type === 'lambda' || node.type === 'class_definition') return false;
  return node.namedChildren.some(yields);
}

/** A plain parameter's name (with or without annotation and default); null for `*args`, `**kw`, `*`, `/`. */
function parameterName(param: SyntaxNode): string | null {
  if (param.type === 'identifier') return param.text;
  if (param.type === 'default_parameter' || param.type === 'typed_default_parameter') return param.childForFieldName('name')?.text ?? null;
  if (param.type === 'typed_parameter') return param.namedChildren[0]?.type === 'identifier' ? param.namedChildren[0].text : null;
  return null;
}

export function functionShape(source: string, def: Definition): FunctionShape | null {
  const node = functionNode(source, def);
  if (!node) return null;
  const body = node.childForFieldName('body');
  const staticMethod = def.decorators !== null && /@\s*staticmethod\b/.test(source.slice(def.span.startIndex, node.startIndex));
  const params = (node.childForFieldName('parameters')?.namedChildren ?? []).filter((p) => p.type !== 'comment');
  const callerPasses = def.kind === 'method' && !staticMethod ? params.slice(1) : params;
  // The first parameter with a plain name: after `*args` or `*` that is a keyword-only one,
  // still a value the caller gave.
  const firstArgument = callerPasses.map(parameterName).find((n) => n !== null) ?? null;
  return { generator: body !== null && yields(body), firstArgument };
}

/**
 * The statements of each degenerate body, unindented; those that do not apply are left out.
 * In the order they run: the bodies that pass the most tests first, so that the later ones run
 * on the fewest tests.
 */
function statements(shape: FunctionShape): [DegenerateName, string[]][] {
  const arg = shape.firstArgument;
  if (shape.generator) {
    return [
      ['anything_once', [...ANYTHING, 'yield _Anything()']],
      ...(arg ? [['first_argument_items', [`for ${ITEM} in ${arg}:`, `    yield ${ITEM}`]] as [DegenerateName, string[]]] : []),
      ['no_items', ['return', 'yield']],
    ];
  }
  const values: [DegenerateName, string][] = [
    ['none', 'None'], ['false', 'False'], ['zero', '0'], ['true', 'True'],
    ['empty_string', "''"], ['empty_list', '[]'], ['empty_dict', '{}'], ['empty_set', 'set()'],
  ];
  return [
    ['anything', [...ANYTHING, 'return _Anything()']],
    ...(arg ? [['first_argument', [`return ${arg}`]] as [DegenerateName, string[]]] : []),
    ...values.map(([name, value]): [DegenerateName, string[]] => [name, [`return ${value}`]]),
  ];
}

export interface DegenerateBody {
  name: DegenerateName;
  /** Lines that replace the candidate's body, indented as its placeholder is. */
  text: string;
}

/**
 * The degenerate bodies of a function, each replacing what its placeholder replaces (the
 * lines after the docstring) at the placeholder's indentation; none when the function's
 * shape cannot be read.
 */
export function degenerateBodies(source: string, def: Definition, placeholder: string): DegenerateBody[] {
  const shape = functionShape(source, def);
  if (!shape) return [];
  const indent = /^[ \t]*/.exec(placeholder)![0];
  return statements(shape).map(([name, lines]) => ({ name, text: lines.map((l) => `${indent}${l}\n`).join('') }));
}

/**
 * The bodies after the placeholder and the object equal to everything run on at most this many
 * of the tests still in question, the fastest: they only have to confirm that one test fails
 * under every body, and the object equal to everything has already left out most weak tests.
 * A function whose first such test falls to a later body is lost (2 of networkx's 328 kept
 * with 3), never a weak one kept.
 */
export const CONFIRMING_TESTS = 1;

export interface ScreenCandidate {
  def: Definition;
  source: string;
  start: number;
  end: number;
  placeholder: string;
  tests: string[];
}

/** The placeholder's trial, then one per degenerate body: one group, sharing the candidate's tests. */
export function screeningTrials(c: ScreenCandidate, timeout: number): { names: ('placeholder' | DegenerateName)[]; trials: Trial[] } {
  const bodies = [{ name: 'placeholder' as const, text: c.placeholder }, ...degenerateBodies(c.source, c.def, c.placeholder)];
  return {
    names: bodies.map((b) => b.name),
    trials: bodies.map((b, i) => ({
      changes: [{ file: c.def.file, qualname: c.def.qualname, source: applyEdit(c.source, { start: c.start, end: c.end, text: b.text }), code_line: c.def.span.start }],
      tests: c.tests,
      timeout,
      group: `${c.def.file}:${c.def.qualname}`,
      // After the placeholder and the object equal to everything, the bodies only confirm.
      ...(i >= 2 ? { at_most: CONFIRMING_TESTS } : {}),
    })),
  };
}

export interface Screening {
  /** Tests every body of the group ran and none passed: at least one, or the candidate is left out. */
  strong: string[];
  /** For each body, the candidate's tests it was seen to pass (it runs only those no earlier body passed). */
  passed: Partial<Record<'placeholder' | DegenerateName, string[]>>;
  /** Bodies whose run gave no result (a timeout, a patch that failed): the candidate is left out. */
  unknown: string[];
  keep: boolean;
}

/**
 * Judges a candidate from its group's results. A test holds when every body ran it and none
 * passed it (a pass as the grader counts it); a test a body did not run is not known to fail
 * under it. A body whose run gave no result might pass anything, so it leaves the candidate out.
 */
export function judge(tests: readonly string[], names: readonly ('placeholder' | DegenerateName)[], results: readonly TrialResult[]): Screening {
  const passed: Screening['passed'] = {};
  const unknown: string[] = [];
  let strong = [...tests];
  names.forEach((name, i) => {
    const result = results[i];
    if (!result || 'skipped' in result) {
      unknown.push(name);
      return;
    }
    const ok = new Set(result.tests.filter((t) => t.outcome === 'passed').map((t) => t.id));
    const ran = new Set(result.tests.map((t) => t.id));
    passed[name] = tests.filter((id) => ok.has(id));
    strong = strong.filter((id) => ran.has(id) && !ok.has(id));
  });
  return { strong, passed, unknown, keep: unknown.length === 0 && strong.length > 0 };
}

/** Runs the placeholder and the degenerate bodies of each candidate (cached per snapshot) and judges them. */
export async function screenCandidates(ctx: RepoContext, snapshot: Snapshot, candidates: readonly ScreenCandidate[], suite: TestSuite, execution: ExecutionOptions): Promise<Screening[]> {
  const groups = candidates.map((c) => screeningTrials(c, trialTimeout(suite, c.tests)));
  const results = await runTrialsCached(ctx, snapshot, groups.flatMap((g) => g.trials), execution);
  let at = 0;
  return groups.map((g, i) => {
    const mine = results.slice(at, (at += g.trials.length));
    return judge(candidates[i]!.tests, g.names, mine);
  });
}
