import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { GradeLevel } from '../../../schemas/api.js';
import { importSweCommand, mineCommand } from '../../../bin/issues.js';
import { snapshotOf } from '../../../env/corpus/snapshot.js';
import { gradeChanges } from '../../../env/tasks/families.js';
import { readInstances } from '../../../env/tasks/generate.js';
import { commentedLines, patchLocations } from '../../../env/tasks/issue-localize.js';
import type { IssueLocalizeInstance } from '../../../schemas/tasks.js';
import { corpusEpisode } from '../../helpers/gold.js';
import { buggyRepo, git } from '../../helpers/git-repos.js';
import { snapshotRoot } from '../../../env/corpus/load.js';

const PATCH = `diff --git a/pkg/core.py b/pkg/core.py
--- a/pkg/core.py
+++ b/pkg/core.py
@@ -2,4 +2,5 @@ import os
 def clamp(x, lo, hi):
-    if x < lo:
+    if x <= lo:
         return lo
+    # new comment line
     return x
@@ -20,3 +21,3 @@ def other():
     a = 1
-    b = 2
+    b = 3
     return a
diff --git a/pkg/new.py b/pkg/new.py
new file mode 100644
--- /dev/null
+++ b/pkg/new.py
@@ -0,0 +1,1 @@
+x = 1
diff --git a/tests/test_core.py b/tests/test_core.py
--- a/tests/test_core.py
+++ b/tests/test_core.py
@@ -1,1 +1,1 @@
-assert True
+assert 1
diff --git a/README.md b/README.md
--- a/README.md
+++ b/README.md
@@ -1,1 +1,1 @@
-old
+new
`;

t.test('patch hunks map onto the pre-patch lines; new, test and non-Python files are left out', async (t) => {
  t.same(patchLocations(PATCH), [
    { file: 'pkg/core.py', start: 3, end: 3 },
    { file: 'pkg/core.py', start: 5, end: 5 },
    { file: 'pkg/core.py', start: 21, end: 21 },
  ]);
});

t.test('comments point at the line below them, or at the line they end', async (t) => {
  const before = 'a = 1\nb = 2\nc = 3\n';
  t.same(commentedLines(before, '# note\na = 1\nb = 2\nc = 3\n'), [1]);
  t.same(commentedLines(before, 'a = 1\nb = 2  # here\nc = 3\n'), [2]);
  t.same(commentedLines(before, 'a = 1\nb = 2\n    # one\n    # two\nc = 3\n'), [3]);
  t.same(commentedLines(before, 'a = 1\n\nb = 2\nc = 3\n'), [], 'a blank line is not a comment');
});

t.test('SWE-Gym import on a repository built here, then grading through the editor', async (t) => {
  const dir = t.testdir({ repo: {}, corpus: {} });
  const { base, record } = buggyRepo(join(dir, 'repo'));
  writeFileSync(join(dir, 'records.jsonl'), `${JSON.stringify(record)}\n${JSON.stringify({ instance_id: 'other', repo: 'x/unknown', base_commit: base, problem_statement: 'p', patch: record.patch })}\n{"not":"a record"}\n`);
  let printed = '';
  const corpus = join(dir, 'corpus');
  const status = await importSweCommand(['--jsonl', join(dir, 'records.jsonl'), '--repo', `acme/shapes=${join(dir, 'repo')}`, '--corpus', corpus], corpus, (s) => (printed += s));
  t.equal(status, 0);
  const summary = JSON.parse(printed);
  t.equal(summary.imported, 1);
  t.same(summary.skipped.map((s: { instance_id: string }) => s.instance_id), ['other', '?']);
  const [instance] = (await readInstances(join(corpus, 'tasks', 'issue_localize.added.jsonl'))) as IssueLocalizeInstance[];
  t.ok(instance);
  t.same([instance!.source, instance!.source_id, instance!.repo.dir], ['swe', 'acme__shapes-1', `shapes@${base.slice(0, 12)}`]);
  t.equal(instance!.repo.snapshot, (await snapshotOf(snapshotRoot(corpus, instance!))).id, 'the snapshot is the base commit, exported');
  t.same(instance!.gold.files, ['pkg/core.py']);
  t.same(instance!.gold.functions, [{ file: 'pkg/core.py', qualname: 'clamp' }]);
  t.same(instance!.gold.lines, [{ file: 'pkg/core.py', start: 6, end: 6 }]);
  t.match(instance!.instruction, /clamp\(lo, lo, hi\)/);

  const gold = await corpusEpisode(corpus, instance!);
  t.equal(gradeChanges(instance!, await gold.changes()).reward, 0, 'no-op');
  await gold.applyGold();
  const scored = gradeChanges(instance!, await gold.changes());
  t.equal(scored.reward, 1, JSON.stringify(scored.info));

  const comment = async (line: number, text: string) => {
    const ep = await corpusEpisode(corpus, instance!);
    await ep.toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'insert', path: `${ep.root}/pkg/core.py`, insert_line: line, new_str: text } });
    return gradeChanges(instance!, await ep.changes());
  };
  const wrongFunction = await comment(13, '    # maybe here');
  t.equal(wrongFunction.reward, 0.3333, 'the right file but the wrong function and line: file level only');
  const levels = Object.fromEntries((wrongFunction.info.levels as GradeLevel[]).map((l) => [l.level, l]));
  t.same(Object.keys(levels), ['file', 'function', 'line']);
  t.same([levels.file!.hits, levels.file!.misses, levels.file!.false_positives], [[{ file: 'pkg/core.py' }], [], []]);
  t.same(levels.function!.misses, [{ file: 'pkg/core.py', qualname: 'clamp' }], 'the gold function missed');
  t.match(levels.function!.false_positives, [{ file: 'pkg/core.py', line: 14 }], 'the function commented, at its comment');
  t.same(levels.line!.misses, [{ file: 'pkg/core.py', line: 6, end_line: 6 }], 'the gold range missed');
  t.same(levels.line!.false_positives, [{ file: 'pkg/core.py', line: 14 }], 'the comment inserted after line 13');
  t.same([levels.line!.precision, levels.line!.recall, levels.line!.f1], [0, 0, 0]);
  const inline = await comment(5, '    # the bound is wrong');
  t.equal(inline.reward, 1, 'a comment right above the line');
  const twice = await comment(5, '    # here\n    # and\n    # more');
  t.equal(twice.reward, 1, 'a block of comments is one pointer');

  const ep = await corpusEpisode(corpus, instance!);
  await ep.toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'str_replace', path: `${ep.root}/pkg/core.py`, old_str: '    if x <= lo:', new_str: '    # fixed\n    if x < lo:' } });
  const smuggled = gradeChanges(instance!, await ep.changes());
  t.same([smuggled.reward, smuggled.info.rule], [0, 'code_changed'], 'fixing the code instead of commenting is caught');
});

t.test('mining: fix commits of a history become issues; docs-only and test-only commits do not', async (t) => {
  const dir = t.testdir({ repo: {}, corpus: {} });
  const repo = join(dir, 'repo');
  buggyRepo(repo);
  writeFileSync(join(repo, 'README.md'), 'docs\n');
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', 'Fix typo in the docs');
  writeFileSync(join(repo, 'tests', 'test_core.py'), 'def test_nothing():\n    pass\n');
  git(repo, 'commit', '-qam', 'Fix the failing test');
  writeFileSync(join(repo, 'pkg', 'util.py'), 'def unrelated():\n    return 2\n');
  git(repo, 'commit', '-qam', 'Add a feature');
  let printed = '';
  const corpus = join(dir, 'corpus');
  t.equal(await mineCommand(['--repo', repo, '--name', 'acme/shapes', '--corpus', corpus], corpus, (s) => (printed += s)), 0);
  const summary = JSON.parse(printed);
  t.same([summary.commits, summary.mined], [1, 1], 'only the clamp fix reads like a fix of code');
  const [instance] = (await readInstances(join(corpus, 'tasks', 'issue_localize.added.jsonl'))) as IssueLocalizeInstance[];
  t.same([instance!.source, instance!.issue], ['mined', 'fix clamp at the lower bound']);
  t.same(instance!.gold.functions, [{ file: 'pkg/core.py', qualname: 'clamp' }]);
  const ep = await corpusEpisode(corpus, instance!);
  await ep.applyGold();
  t.equal(gradeChanges(instance!, await ep.changes()).reward, 1);
});
