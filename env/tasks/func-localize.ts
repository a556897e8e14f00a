/**
 * func_localize: a function lost its docstring; from a description of what it does, the
 * agent finds it and writes the docstring again, changing nothing else.
 */
import { isRealDocstring } from '../analysis/docstring.js';
import { parsePython } from '../analysis/parse.js';
import type { Definition } from '../analysis/types.js';
import type { Edit, FuncLocalizeInstance } from '../../schemas/tasks.js';
import type { GradeLevel, GradeLocation } from '../../schemas/api.js';
import type { Changes } from './changes.js';
import { describeByRule } from './describe.js';
import { applyEdits } from './edits.js';
import { codeChanges, definitionsOf, f1, round, tokenF1, type GradeResult } from './grade.js';
import { instanceId, isTestFile, uniquelyNamed, workspacePath, type RepoContext, type GenerateOptions } from './context.js';

type Target = { def: Definition; description: string; source: 'rule' | 'model' };

/** Definitions whose docstring can be removed cleanly and is worth asking for. */
function candidates(ctx: RepoContext): Definition[] {
  const unique = uniquelyNamed(ctx.analysis);
  return ctx.analysis.modules.flatMap((m) =>
    isTestFile(m.file)
      ? []
      : m.definitions.filter(
          (d) =>
            d.kind !== 'class' &&
            !/^__.*__$/.test(d.name) &&
            unique.has(`${d.file}:${d.qualname}`) &&
            d.docstring !== null &&
            d.docstring.ownLines &&
            d.docstring.hasFollowingStatements &&
            !d.docstring.nextIsString &&
            isRealDocstring(d.docstring.text),
        ),
  );
}

function removal(def: Definition): Edit {
  return { file: def.file, start: def.docstring!.span.start, end: def.docstring!.span.end, text: '' };
}

async function describe(def: Definition, hide: boolean, options: GenerateOptions): Promise<Target> {
  const kind = def.kind === 'method' ? 'method' : 'function';
  const hidden = hide ? [def.name, def.qualname] : [];
  const byModel = options.describe ? await options.describe({ docstring: def.docstring!.text, kind, name: def.name, qualname: def.qualname }) : null;
  if (byModel) return { def, description: byModel, source: 'model' };
  return { def, description: describeByRule(def.docstring!.text, kind, hidden), source: 'rule' };
}

function instruction(ctx: RepoContext, variant: FuncLocalizeInstance['variant'], targets: Target[]): string {
  const where = workspacePath(ctx.name);
  const rules =
    'Add only docstrings: a string literal as the first statement of the body. Do not change, add or remove any code or any other line; a comment is not a docstring. Call finish when you are done.';
  if (variant === 'named') {
    const t = targets[0]!;
    return `The docstring of the ${t.def.kind} \`${t.def.qualname}\` in the repository at ${where} was removed. ${t.description}\n\nFind it and write a docstring for it that explains what it does. ${rules}`;
  }
  if (variant === 'masked') {
    const t = targets[0]!;
    return `A ${t.def.kind} in the repository at ${where} lost its docstring. ${t.description}\n\nFind that ${t.def.kind} (its name is not given) and write a docstring for it that explains what it does. ${rules}`;
  }
  const list = targets.map((t, i) => `${i + 1}. ${t.description}`).join('\n');
  return `${targets.length} functions or methods in the repository at ${where} lost their docstrings. What each one does:\n${list}\n\nFind each of them (their names are not given) and write a docstring for each that explains what it does. ${rules}`;
}

/** The workspace line of each target's `def`, once every removal is applied. */
function defLineAfter(def: Definition, edits: readonly Edit[]): number {
  const removedAbove = edits.filter((e) => e.file === def.file && e.end < def.defLine).reduce((n, e) => n + (e.end - e.start + 1), 0);
  return def.defLine - removedAbove;
}

/** Every edited file must still parse after the removals. */
async function parsesAfter(ctx: RepoContext, edits: readonly Edit[]): Promise<boolean> {
  for (const file of new Set(edits.map((e) => e.file))) {
    const text = applyEdits(await ctx.source(file), edits.filter((e) => e.file === file));
    if ('error' in parsePython(text)) return false;
  }
  return true;
}

export async function generateFuncLocalize(ctx: RepoContext, options: GenerateOptions): Promise<FuncLocalizeInstance[]> {
  const pool = options.rng.shuffle(candidates(ctx));
  if (pool.length === 0) options.explain?.('no uniquely named function outside the tests has a real docstring on its own lines followed by code');
  const out: FuncLocalizeInstance[] = [];
  const variants: FuncLocalizeInstance['variant'][] = ['named', 'masked', 'masked', 'named', 'multi'];
  while (pool.length > 0 && out.length < options.maxPerRepo) {
    const variant = variants[out.length % variants.length]!;
    const count = variant === 'multi' ? 2 + options.rng.int(2) : 1;
    if (pool.length < count) break;
    const defs = pool.splice(0, count);
    const edits = defs.map(removal);
    if (!(await parsesAfter(ctx, edits))) continue;
    const targets = await Promise.all(defs.map((d) => describe(d, variant !== 'named', options)));
    out.push({
      instance_id: instanceId('func_localize', ctx, [variant, ...defs.map((d) => `${d.file}:${d.qualname}`)]),
      task: 'func_localize',
      repo: ctx.ref,
      variant,
      description_source: targets.every((t) => t.source === 'model') ? 'model' : 'rule',
      instruction: instruction(ctx, variant, targets),
      edits,
      seed: options.seed,
      gold: {
        targets: targets.map((t) => ({
          file: t.def.file,
          qualname: t.def.qualname,
          docstring: t.def.docstring!.text,
          line: defLineAfter(t.def, edits),
          description: t.description,
        })),
      },
    });
  }
  return out;
}

/**
 * Reward: F1 over definitions that gained a real docstring — targets are true positives,
 * any other definition that gained one is a false positive — and 0 for any code change.
 */
export function gradeFuncLocalize(instance: FuncLocalizeInstance, changes: Changes): GradeResult {
  const code = codeChanges(changes);
  if (code.length > 0) return { reward: 0, info: { rule: 'code_changed', code_changes: code, added_files: changes.added } };
  // Each modified file is parsed once for its definitions after the episode.
  const after = new Map(changes.modified.filter((m) => m.path.endsWith('.py')).map((m) => [m.path, definitionsOf(m.path, m.after)]));
  const targets = instance.gold.targets.map((t) => {
    const def = after.get(t.file)?.get(t.qualname);
    const doc = def?.docstring ?? null;
    const documented = doc !== null && isRealDocstring(doc.text);
    return {
      file: t.file,
      qualname: t.qualname,
      documented,
      ...(doc && !documented ? { why: 'the docstring is too short to describe anything' } : {}),
      similarity: doc ? round(tokenF1(doc.text, t.docstring)) : 0,
    };
  });
  const targetKeys = new Set(instance.gold.targets.map((t) => `${t.file}:${t.qualname}`));
  const extra: string[] = [];
  const extraAt: GradeLocation[] = [];
  for (const m of changes.modified) {
    const defs = after.get(m.path);
    if (!defs) continue;
    const gained = [...defs].filter(([qualname, def]) => def.docstring && !targetKeys.has(`${m.path}:${qualname}`));
    if (gained.length === 0) continue;
    const before = definitionsOf(m.path, m.before);
    for (const [qualname, def] of gained) {
      if (before.get(qualname)?.docstring) continue;
      extra.push(`${m.path}:${qualname}`);
      extraAt.push({ file: m.path, line: def.defLine, qualname, note: 'gained a docstring but is not a target' });
    }
  }
  const tp = targets.filter((t) => t.documented).length;
  const score = f1(tp, extra.length, targets.length - tp);
  const similarity = round(targets.reduce((s, t) => s + t.similarity, 0) / targets.length);
  // Targets at their `def` line in the workspace given.
  const at = (t: (typeof targets)[number], i: number): GradeLocation => ({ file: t.file, line: instance.gold.targets[i]!.line, qualname: t.qualname, ...(t.why ? { note: t.why } : {}) });
  const level: GradeLevel = {
    level: 'definition',
    ...score,
    hits: targets.flatMap((t, i) => (t.documented ? [at(t, i)] : [])),
    misses: targets.flatMap((t, i) => (t.documented ? [] : [at(t, i)])),
    false_positives: extraAt,
  };
  return {
    reward: score.f1,
    info: { rule: tp === 0 ? 'no_target_documented' : 'graded', ...score, similarity, targets, extra_docstrings: extra, levels: [level], added_files: changes.added },
  };
}
