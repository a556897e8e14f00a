/**
 * The task families by name: how each instance is graded. The static families compare the
 * final workspace with the one given (`gradeChanges`); func_gen runs tests in a fresh
 * sandbox. Grading is in two steps: `collectSubmission` reads what it needs from the agent's
 * sandbox, which is then released; `gradeSubmission` decides.
 */
import type { FuncGenInstance, TaskInstance } from '../../schemas/tasks.js';
import { collectChanges, type Changes, type WorkspaceBaseline } from './changes.js';
import type { Sandbox } from '../sandbox.js';
import { gradeDepSearch } from './dep-search.js';
import { gradeFuncGen, readSubmission, type ExecutionGradeContext } from './func-gen.js';
import { gradeFuncLocalize } from './func-localize.js';
import { gradeIssueLocalize } from './issue-localize.js';
import type { GradeResult } from './grade.js';
import { warmFacts } from './python-facts.js';

export type StaticInstance = Exclude<TaskInstance, FuncGenInstance>;

export function isStatic(instance: TaskInstance): instance is StaticInstance {
  return instance.task !== 'func_gen';
}

/** Grades an instance of a static family from the workspace's changes alone. */
export function gradeChanges(instance: StaticInstance, changes: Changes): GradeResult {
  switch (instance.task) {
    case 'func_localize':
      return gradeFuncLocalize(instance, changes);
    case 'dep_search':
      return gradeDepSearch(instance, changes);
    case 'issue_localize':
      return gradeIssueLocalize(instance, changes);
  }
}

/**
 * Work a grade would do, done at reset instead: the facts (skeleton, definitions) of the
 * files as given that the instance is about: those it edits and those its answer lies in,
 * the files a good answer changes. Any other file the agent changes is read at grading.
 * func_gen's: the target's file as given (what the agent submits when it leaves the file as it
 * is) and, from `pristine`, as the snapshot has it (where its definition is replaced).
 */
export async function warmGrading(instance: TaskInstance, baseline: WorkspaceBaseline, when?: 'quiet' | 'now', pristine?: (path: string) => Promise<string | null>): Promise<void> {
  if (!isStatic(instance)) {
    const file = [instance.gold.file];
    await Promise.all([warmFacts(file, (path) => baseline.read(path), when), pristine ? warmFacts(file, pristine, when) : null]);
    return;
  }
  const files = instance.edits.map((e) => e.file);
  switch (instance.task) {
    case 'func_localize':
      files.push(...instance.gold.targets.map((t) => t.file));
      break;
    case 'dep_search':
      files.push(instance.gold.target.file, ...instance.gold.dependencies.map((d) => d.file));
      break;
    case 'issue_localize':
      files.push(...instance.gold.files);
      break;
  }
  return warmFacts(files, (path) => baseline.read(path), when);
}

/**
 * What grading takes from the agent's sandbox: the workspace's changes (static families) or
 * the target's file (func_gen). Every process of the agent is killed first, so nothing it
 * left running can change, hide or block what is read.
 */
export type Submission = { changes: Changes } | { text: string | null };

export async function collectSubmission(instance: TaskInstance, sandbox: Sandbox, root: string, baseline: WorkspaceBaseline): Promise<Submission> {
  await sandbox.halt();
  return isStatic(instance) ? { changes: await collectChanges(sandbox, root, baseline) } : { text: await readSubmission(instance, sandbox, root) };
}

/** Grades what was collected; func_gen runs its tests in a fresh sandbox of `execution.pool`. */
export async function gradeSubmission(instance: TaskInstance, submission: Submission, execution: ExecutionGradeContext): Promise<GradeResult> {
  if (isStatic(instance)) {
    if (!('changes' in submission)) throw new Error(`${instance.task} is graded from the workspace's changes`);
    return gradeChanges(instance, submission.changes);
  }
  if (!('text' in submission)) throw new Error('func_gen is graded from the target file');
  return gradeFuncGen(instance, submission.text, execution);
}
