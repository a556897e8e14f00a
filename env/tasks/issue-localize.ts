/**
 * issue_localize: an issue text, and the places a fix changes. The agent leaves comments at
 * those places without changing code; grading compares where its comments land with the
 * gold at file, function and line level.
 */
import { diffArrays, parsePatch } from 'diff';
import type { Definition } from '../analysis/types.js';
import type { IssueLocalizeInstance } from '../../schemas/tasks.js';
import type { GradeLevel, GradeLocation } from '../../schemas/api.js';
import type { Changes } from './changes.js';
import { instanceId, isTestFile, workspacePath, type RepoContext } from './context.js';
import { codeChanges, definitionsOf, f1, round, type GradeResult } from './grade.js';

export interface LineRange {
  file: string;
  start: number;
  end: number;
}

/** A predicted line counts for a gold range this many lines above or below it. */
export const LINE_TOLERANCE = 2;

function stripPrefix(name: string | undefined): string | null {
  if (!name || name === '/dev/null') return null;
  return name.replace(/^[ab]\//, '').replace(/\t.*$/, '');
}

function toRanges(file: string, lines: number[]): LineRange[] {
  const sorted = [...new Set(lines)].sort((a, b) => a - b);
  const out: LineRange[] = [];
  for (const line of sorted) {
    const last = out[out.length - 1];
    if (last && line <= last.end + 1) last.end = Math.max(last.end, line);
    else out.push({ file, start: line, end: line });
  }
  return out;
}

/**
 * Where a unified diff changes the pre-patch tree: the removed or replaced lines, and for a
 * pure insertion the line it goes before. New files and non-Python files are left out (there
 * is nothing to comment on in the workspace), and so are test files.
 */
export function patchLocations(patch: string): LineRange[] {
  const out: LineRange[] = [];
  for (const filePatch of parsePatch(patch)) {
    const file = stripPrefix(filePatch.oldFileName);
    if (!file || !file.endsWith('.py') || isTestFile(file)) continue;
    const marked: number[] = [];
    for (const hunk of filePatch.hunks) {
      let old = hunk.oldStart;
      // A change block is a run of removed and added lines: its removed lines are the
      // places; a block that only adds lines points at the line it goes before.
      let removedInBlock = false;
      let insertionMarked = false;
      for (const line of hunk.lines) {
        if (line.startsWith('-')) {
          marked.push(old++);
          removedInBlock = true;
        } else if (line.startsWith('+')) {
          if (!removedInBlock && !insertionMarked) marked.push(Math.max(1, old));
          insertionMarked = true;
        } else if (line.startsWith(' ')) {
          old++;
          removedInBlock = false;
          insertionMarked = false;
        }
      }
    }
    out.push(...toRanges(file, marked));
  }
  return out;
}

/** The innermost definition of `defs` whose span holds `line`, if any. */
export function innermostAt(defs: Iterable<Definition>, line: number): Definition | null {
  let best: Definition | null = null;
  for (const d of defs) {
    if (d.span.start <= line && line <= d.span.end && (!best || d.span.start >= best.span.start)) best = d;
  }
  return best;
}

export interface IssueDraft {
  source: IssueLocalizeInstance['source'];
  sourceId: string;
  issue: string;
  lines: LineRange[];
}

export function instruction(repo: string, issue: string): string {
  return [
    `An issue was reported against the repository at ${workspacePath(repo)}:`,
    '',
    issue.trim(),
    '',
    'Find the places in the code that must change to resolve it. Leave a comment (a line starting with #) directly above each such line or block, or at the end of the line, saying what is wrong there.',
    'Do not change any code: only add comments. Call finish when you are done.',
  ].join('\n');
}

/** An instance from a drafted issue and its gold lines on the snapshot the context holds. */
export function issueInstance(ctx: RepoContext, draft: IssueDraft): IssueLocalizeInstance | null {
  const lines = draft.lines.filter((l) => ctx.analysis.modules.some((m) => m.file === l.file));
  if (lines.length === 0) return null;
  const functions = new Map<string, { file: string; qualname: string }>();
  for (const l of lines) {
    const defs = ctx.analysis.modules.find((m) => m.file === l.file)!.definitions;
    for (let line = l.start; line <= l.end; line++) {
      const def = innermostAt(defs, line);
      if (def) functions.set(`${def.file}:${def.qualname}`, { file: def.file, qualname: def.qualname });
    }
  }
  return {
    instance_id: instanceId('issue_localize', ctx, [draft.source, draft.sourceId]),
    task: 'issue_localize',
    repo: ctx.ref,
    source: draft.source,
    source_id: draft.sourceId,
    issue: draft.issue,
    instruction: instruction(ctx.name, draft.issue),
    edits: [],
    gold: { files: [...new Set(lines.map((l) => l.file))], functions: [...functions.values()], lines },
  };
}

/**
 * The lines of the file before the episode that the agent's new comments point at: a
 * comment added on lines of its own points at the line that follows it; a comment added at
 * the end of a line points at that line.
 */
export function commentedLines(before: string, after: string): number[] {
  const parts = diffArrays(before.split('\n'), after.split('\n'));
  const out: number[] = [];
  let line = 1;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.removed) {
      const next = parts[i + 1];
      if (next?.added && next.value.some((l) => /#/.test(l))) for (let k = 0; k < part.value.length; k++) out.push(line + k);
      line += part.value.length;
      if (next?.added) i++;
    } else if (part.added) {
      if (part.value.some((l) => l.trim().startsWith('#'))) out.push(line);
    } else line += part.value.length;
  }
  return out;
}

/**
 * Reward: the mean of the file-, function- and line-level F1 (the function level only where
 * the gold names functions). Lines: a predicted line within LINE_TOLERANCE of a gold range
 * hits it; precision over predicted lines, recall over gold ranges. Any code change gives 0.
 */
export function gradeIssueLocalize(instance: IssueLocalizeInstance, changes: Changes): GradeResult {
  const code = codeChanges(changes);
  if (code.length > 0) return { reward: 0, info: { rule: 'code_changed', code_changes: code, added_files: changes.added } };
  const predicted: { file: string; line: number; fn: string | null }[] = [];
  for (const m of changes.modified) {
    if (!m.path.endsWith('.py') || m.before === null || m.after === null) continue;
    const defs = [...definitionsOf(m.path, m.before).values()];
    for (const line of commentedLines(m.before, m.after)) {
      const def = innermostAt(defs, line);
      predicted.push({ file: m.path, line, fn: def ? `${m.path}:${def.qualname}` : null });
    }
  }
  const goldFiles = new Set(instance.gold.files);
  const predFiles = new Set(predicted.map((p) => p.file));
  const fileHits = [...predFiles].filter((f) => goldFiles.has(f)).length;
  const files = f1(fileHits, predFiles.size - fileHits, goldFiles.size - fileHits);

  const goldFns = new Set(instance.gold.functions.map((f) => `${f.file}:${f.qualname}`));
  const predFns = new Set(predicted.flatMap((p) => (p.fn ? [p.fn] : [])));
  const fnHits = [...predFns].filter((f) => goldFns.has(f)).length;
  const functions = f1(fnHits, predFns.size - fnHits, goldFns.size - fnHits);

  const ranges = instance.gold.lines;
  const near = (p: { file: string; line: number }, r: LineRange) => p.file === r.file && p.line >= r.start - LINE_TOLERANCE && p.line <= r.end + LINE_TOLERANCE;
  const goodLines = predicted.filter((p) => ranges.some((r) => near(p, r))).length;
  const rangesHit = ranges.filter((r) => predicted.some((p) => near(p, r))).length;
  const precision = predicted.length === 0 ? 0 : goodLines / predicted.length;
  const recall = rangesHit / ranges.length;
  const lines = { precision: round(precision), recall: round(recall), f1: precision + recall === 0 ? 0 : round((2 * precision * recall) / (precision + recall)) };

  // Each level's places: files as they are; functions at the first comment inside them
  // (a missed one, which has none, by name only); lines at each comment, gold ranges in full.
  const firstIn = (fn: string) => predicted.find((p) => p.fn === fn)?.line;
  const fnAt = (fn: string): GradeLocation => {
    const split = fn.lastIndexOf(':');
    const line = firstIn(fn);
    return { file: fn.slice(0, split), qualname: fn.slice(split + 1), ...(line ? { line } : {}) };
  };
  const lineAt = (p: { file: string; line: number }): GradeLocation => ({ file: p.file, line: p.line });
  const explained: GradeLevel[] = [
    {
      level: 'file',
      ...files,
      hits: [...predFiles].filter((f) => goldFiles.has(f)).map((file) => ({ file })),
      misses: [...goldFiles].filter((f) => !predFiles.has(f)).map((file) => ({ file })),
      false_positives: [...predFiles].filter((f) => !goldFiles.has(f)).map((file) => ({ file })),
    },
    ...(goldFns.size > 0
      ? [
          {
            level: 'function',
            ...functions,
            hits: [...predFns].filter((f) => goldFns.has(f)).map(fnAt),
            misses: [...goldFns].filter((f) => !predFns.has(f)).map(fnAt),
            false_positives: [...predFns].filter((f) => !goldFns.has(f)).map(fnAt),
          },
        ]
      : []),
    {
      level: 'line',
      ...lines,
      hits: predicted.filter((p) => ranges.some((r) => near(p, r))).map(lineAt),
      misses: ranges.filter((r) => !predicted.some((p) => near(p, r))).map((r) => ({ file: r.file, line: r.start, end_line: r.end })),
      false_positives: predicted.filter((p) => !ranges.some((r) => near(p, r))).map(lineAt),
    },
  ];

  const levels = goldFns.size > 0 ? [files.f1, functions.f1, lines.f1] : [files.f1, lines.f1];
  return {
    reward: round(levels.reduce((a, b) => a + b, 0) / levels.length),
    info: {
      rule: predicted.length === 0 ? 'no_comment' : 'graded',
      combined: goldFns.size > 0 ? 'mean of file, function and line F1' : 'mean of file and line F1 (the gold names no function)',
      file: files,
      function: goldFns.size > 0 ? functions : null,
      line: lines,
      predicted: predicted.map((p) => `${p.file}:${p.line}`),
      levels: explained,
      added_files: changes.added,
    },
  };
}
