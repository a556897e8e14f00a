/**
 * dep_search: the agent marks every repository definition a target function calls directly,
 * with a fixed comment on the line above each definition (above its decorators).
 */
import type { Definition } from '../analysis/types.js';
import type { DepSearchInstance } from '../../schemas/tasks.js';
import type { GradeLevel, GradeLocation } from '../../schemas/api.js';
import type { Changes } from './changes.js';
import { codeChanges, definitionsOf, f1, type GradeResult } from './grade.js';
import { instanceId, isTestFile, uniquelyNamed, workspacePath, type GenerateOptions, type RepoContext } from './context.js';

export const MIN_DEPENDENCIES = 1;
export const MAX_DEPENDENCIES = 5;

export function depComment(target: string): string {
  return `# this function/class is called by the ${target} function`;
}

/**
 * How a comment is compared: case, runs of white space and a final period do not matter;
 * every word must be there, in order. Documented in docs/tasks.md.
 */
export function normalizeComment(line: string): string {
  return line.trim().replace(/^#\s*/, '# ').replace(/\s+/g, ' ').replace(/\.$/, '').toLowerCase();
}

function instruction(ctx: RepoContext, target: Definition, comment: string): string {
  return [
    `In the repository at ${workspacePath(ctx.name)}, find every function, method or class defined in this repository that the ${target.kind} \`${target.qualname}\` (in ${target.file}) calls directly.`,
    'Directly above the definition of each one (above its decorators, if it has any), add this line, indented like the definition:',
    comment,
    `Count only definitions in this repository, not built-ins, the standard library or installed packages. Calls made in functions or lambdas nested inside \`${target.qualname}\` count; \`${target.qualname}\` itself does not. Instantiating a class counts as calling the class.`,
    'Do not change any code. Call finish when you are done.',
  ].join('\n');
}

export interface DepSearchTargets {
  targets: { def: Definition; deps: Definition[] }[];
  /** Functions left out only because a call of theirs is uncertain (see analysis/calls.ts). */
  uncertain: number;
}

/**
 * The functions that can be targets: outside tests, uniquely named, with 1 to 5 uniquely
 * named dependencies, and no call whose target static analysis cannot tell, since such
 * a call may reach a definition the gold would miss.
 */
export function depSearchTargets(ctx: RepoContext): DepSearchTargets {
  const unique = uniquelyNamed(ctx.analysis);
  const isUnique = (d: Definition) => unique.has(`${d.file}:${d.qualname}`);
  const out: DepSearchTargets = { targets: [], uncertain: 0 };
  for (const m of ctx.analysis.modules) {
    if (isTestFile(m.file)) continue;
    for (const def of m.definitions) {
      if (def.kind === 'class' || !isUnique(def)) continue;
      const { dependencies: deps, uncertain } = ctx.analysis.index.report(def);
      if (deps.length < MIN_DEPENDENCIES || deps.length > MAX_DEPENDENCIES || !deps.every(isUnique)) continue;
      if (uncertain.length > 0) out.uncertain++;
      else out.targets.push({ def, deps });
    }
  }
  return out;
}

export async function generateDepSearch(ctx: RepoContext, options: GenerateOptions): Promise<DepSearchInstance[]> {
  // Bucket targets by how many dependencies they have, then take from each bucket in turn.
  const buckets = new Map<number, { def: Definition; deps: Definition[] }[]>();
  const found = depSearchTargets(ctx);
  if (found.targets.length === 0) {
    const uncertain = found.uncertain ? ` (${found.uncertain} left out because a call of theirs cannot be resolved statically)` : '';
    options.explain?.(`no uniquely named function outside the tests calls ${MIN_DEPENDENCIES} to ${MAX_DEPENDENCIES} uniquely named definitions of the repository${uncertain}`);
  }
  for (const target of found.targets) {
    const bucket = buckets.get(target.deps.length) ?? [];
    bucket.push(target);
    buckets.set(target.deps.length, bucket);
  }
  const queues = [...buckets.keys()].sort((a, b) => a - b).map((k) => options.rng.shuffle(buckets.get(k)!));
  const out: DepSearchInstance[] = [];
  while (out.length < options.maxPerRepo && queues.some((q) => q.length > 0)) {
    for (const queue of queues) {
      const next = queue.shift();
      if (!next || out.length >= options.maxPerRepo) continue;
      const { def, deps } = next;
      const comment = depComment(def.qualname);
      out.push({
        instance_id: instanceId('dep_search', ctx, [`${def.file}:${def.qualname}`]),
        task: 'dep_search',
        repo: ctx.ref,
        instruction: instruction(ctx, def, comment),
        edits: [],
        seed: options.seed,
        gold: {
          target: { file: def.file, qualname: def.qualname },
          comment,
          dependencies: deps
            .map((d) => ({ file: d.file, qualname: d.qualname, line: d.defLine, start: d.span.start }))
            .sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1)),
        },
      });
    }
  }
  return out;
}

/**
 * Reward: F1 over definitions. A hit is a dependency with the comment on the line directly
 * above it; every other matching comment (a duplicate, one above a non-dependency, one
 * above nothing) is a false positive. Any code change gives 0.
 */
export function gradeDepSearch(instance: DepSearchInstance, changes: Changes): GradeResult {
  const code = codeChanges(changes);
  if (code.length > 0) return { reward: 0, info: { rule: 'code_changed', code_changes: code, added_files: changes.added } };
  const wanted = normalizeComment(instance.gold.comment);
  const goldDefs = new Map(instance.gold.dependencies.map((d) => [`${d.file}:${d.qualname}`, d]));
  const hits = new Set<string>();
  const falsePositives: string[] = [];
  const falseAt: GradeLocation[] = [];
  for (const m of changes.modified) {
    if (!m.path.endsWith('.py') || m.after === null) continue;
    const lines = m.after.split('\n');
    const startsAt = new Map<number, Definition>();
    for (const def of definitionsOf(m.path, m.after).values()) startsAt.set(def.span.start, def);
    lines.forEach((line, i) => {
      if (normalizeComment(line) !== wanted) return;
      const below = startsAt.get(i + 2);
      const key = below ? `${m.path}:${below.qualname}` : null;
      if (key && goldDefs.has(key) && !hits.has(key)) {
        hits.add(key);
        return;
      }
      const note = !key ? 'above no definition' : goldDefs.has(key) ? 'duplicate' : 'not a dependency';
      falsePositives.push(key ? `${key}${goldDefs.has(key) ? ' (duplicate)' : ''}` : `${m.path}:${i + 1} (above no definition)`);
      falseAt.push({ file: m.path, line: i + 1, ...(below ? { qualname: below.qualname } : {}), note });
    });
  }
  const misses = [...goldDefs.keys()].filter((k) => !hits.has(k));
  const score = f1(hits.size, falsePositives.length, misses.length);
  // The gold's places: each dependency's `def`/`class` line.
  const at = (key: string): GradeLocation => {
    const d = goldDefs.get(key)!;
    return { file: d.file, line: d.line, qualname: d.qualname };
  };
  const level: GradeLevel = { level: 'definition', ...score, hits: [...hits].map(at), misses: misses.map(at), false_positives: falseAt };
  return {
    reward: score.f1,
    info: { rule: 'graded', ...score, hits: [...hits], misses, false_positives: falsePositives, levels: [level], added_files: changes.added },
  };
}

