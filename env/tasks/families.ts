/** The task families by name: how each instance is graded. */
import type { TaskInstance } from '../../schemas/tasks.js';
import type { Changes } from './changes.js';
import { gradeDepSearch } from './dep-search.js';
import { gradeFuncLocalize } from './func-localize.js';
import { gradeIssueLocalize } from './issue-localize.js';
import type { GradeResult } from './grade.js';

export function gradeInstance(instance: TaskInstance, changes: Changes): GradeResult {
  switch (instance.task) {
    case 'func_localize':
      return gradeFuncLocalize(instance, changes);
    case 'dep_search':
      return gradeDepSearch(instance, changes);
    case 'issue_localize':
      return gradeIssueLocalize(instance, changes);
  }
}
