/**
 * The task families by name: how each instance is graded. The static families compare the
 * final workspace with the one given (`gradeChanges`); func_gen runs tests in the sandbox,
 * so `gradeInstance`, which grades any family, needs the sandbox and the snapshot.
 */
import type { FuncGenInstance, TaskInstance } from '../../schemas/tasks.js';
import type { Changes } from './changes.js';
import { gradeDepSearch } from './dep-search.js';
import { gradeFuncGen, type ExecutionGradeContext } from './func-gen.js';
import { gradeFuncLocalize } from './func-localize.js';
import { gradeIssueLocalize } from './issue-localize.js';
import type { GradeResult } from './grade.js';

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

/** What grading reads: the workspace's changes (static families), the sandbox (executed ones). */
export interface GradeInput {
  changes: () => Promise<Changes>;
  execution: ExecutionGradeContext;
}

export async function gradeInstance(instance: TaskInstance, input: GradeInput): Promise<GradeResult> {
  return isStatic(instance) ? gradeChanges(instance, await input.changes()) : gradeFuncGen(instance, input.execution);
}
