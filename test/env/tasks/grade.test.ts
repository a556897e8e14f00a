import { execFileSync } from 'node:child_process';
import t from 'tap';
import { readAsPython } from '../../../env/analysis/python-text.js';
import type { Changes } from '../../../env/tasks/changes.js';
import { gradeChanges, type StaticInstance } from '../../../env/tasks/families.js';
import { CHECK_MS, codeChanges } from '../../../env/tasks/grade.js';
import type { DepSearchInstance, FuncLocalizeInstance, IssueLocalizeInstance } from '../../../schemas/tasks.js';

/** The workspace file as given. No `+` anywhere: the UTF-7 tricks below keep the rest of it ASCII code. */
const GIVEN = `# Geometry helpers.
"""Rectangles."""


def area(w, h):
    return w * h


def perimeter(w, h):
    """Return the perimeter of a w by h rectangle."""
    return sum((w, w, h, h))


def total(sizes):
    """Return the summed area of (w, h) pairs."""
    return sum(area(w, h) for w, h in sizes)
`;

const repo = { name: 'geo', snapshot: '0'.repeat(64), license: 'MIT' };
const common = { repo, instruction: 'do it', edits: [] };
const funcLocalize: FuncLocalizeInstance = {
  ...common,
  instance_id: 'fl',
  task: 'func_localize',
  variant: 'named',
  description_source: 'rule',
  gold: { targets: [{ file: 'geo.py', qualname: 'area', docstring: 'Return the area of a w by h rectangle.', line: 5, description: 'area' }] },
};
const depSearch: DepSearchInstance = {
  ...common,
  instance_id: 'ds',
  task: 'dep_search',
  gold: {
    target: { file: 'geo.py', qualname: 'total' },
    comment: '# this function/class is called by the total function',
    dependencies: [{ file: 'geo.py', qualname: 'area', line: 5, start: 5 }],
  },
};
const issueLocalize: IssueLocalizeInstance = {
  ...common,
  instance_id: 'il',
  task: 'issue_localize',
  source: 'mined',
  source_id: 'abc',
  issue: 'perimeter is wrong',
  gold: { files: ['geo.py'], functions: [{ file: 'geo.py', qualname: 'perimeter' }], lines: [{ file: 'geo.py', start: 11, end: 11 }] },
};

/** Each family's right answer: lines inserted after a line of the given file. */
const ANSWERS: [StaticInstance, after: number, line: string][] = [
  [funcLocalize, 5, '    """Return the area of a w by h rectangle."""'],
  [depSearch, 4, '# this function/class is called by the total function'],
  [issueLocalize, 10, '    # the perimeter is computed here'],
];

function answer(given: string, after: number, line: string, eol = '\n'): string {
  const lines = given.split(/(?<=\n)/);
  return [...lines.slice(0, after), `${line}${eol}`, ...lines.slice(after)].join('');
}

function changes(before: string, after: string): Changes {
  return { modified: [{ path: 'geo.py', before, after }], deleted: [], added: [] };
}

/** Ways to change what `area` computes where the parse shows only comments. */
const TRICKS: [name: string, trick: (text: string) => string][] = [
  ['a lone CR in a comment', (s) => `${s}# the end\rarea = perimeter\n`],
  ['a CR-separated line in a function', (s) => s.replace('    return w * h\n', '    # keep\r    return 0\n    return w * h\n')],
  ['a UTF-7 coding declaration', (s) => `${s.replace('# Geometry helpers.', '# -*- coding: utf-7 -*- Geometry helpers.')}# +AAo-area = perimeter\n`],
  ['a UTF-7 declaration after a form feed', (s) => `${s.replace('# Geometry helpers.', '\f# coding: utf-7 Geometry helpers.')}# +AAo-area = perimeter\n`],
  ['a UTF-7 declaration on line 2 after CR', (s) => `${s.replace('# Geometry helpers.', '# Geometry\r# vim: fileencoding=utf-7')}# +AAo-area = perimeter\n`],
  ['a unicode_escape coding declaration', (s) => `${s.replace('# Geometry helpers.', '# coding: unicode_escape')}# \\x0aarea = perimeter\n`],
  ['a unicode_escape declaration after U+2028', (s) => `${s.replace('# Geometry helpers.', '# \u2028 coding: unicode_escape')}# \\x0aarea = perimeter\n`],
];

t.test('each trick is real: Python runs the code the parse shows as a comment', async (t) => {
  const texts = TRICKS.map(([, trick]) => trick(GIVEN));
  const script = 'import json, sys\nfor src in json.load(sys.stdin):\n    ns = {}\n    exec(compile(src.encode(), "geo.py", "exec"), ns)\n    print(ns["area"](2, 3) != 6)\n';
  const out = execFileSync('python3', ['-c', script], { input: JSON.stringify(texts) }).toString().trim().split('\n');
  t.same(out, TRICKS.map(() => 'True'));
});

t.test('the right answer scores 1 in each family, and 0 with any trick beside it', async (t) => {
  for (const [instance, after, line] of ANSWERS) {
    const honest = answer(GIVEN, after, line);
    t.equal(gradeChanges(instance, changes(GIVEN, honest)).reward, 1, `${instance.task}: the answer alone`);
    for (const [name, trick] of TRICKS) {
      const result = gradeChanges(instance, changes(GIVEN, trick(honest)));
      t.same([result.reward, result.info.rule], [0, 'code_changed'], `${instance.task}: ${name}`);
    }
  }
});

t.test('what Python refuses but the parse accepts is a code change too', async (t) => {
  const honest = answer(GIVEN, 5, '    """Return the area of a w by h rectangle."""');
  for (const [name, after] of [
    ['a vertical tab between tokens', honest.replace('w * h', 'w *\vh')],
    ['a tab after spaces', honest.replace('    return w * h', '  \treturn w * h')],
    ['a docstring with a bad escape', honest.replace('rectangle."""', 'rectangle \\x4."""')],
    ['a NUL in a comment', `${honest}# \0\n`],
  ]) {
    t.same(codeChanges(changes(GIVEN, after!)).map((c) => c.file), ['geo.py'], name!);
    t.equal(gradeChanges(funcLocalize, changes(GIVEN, after!)).reward, 0, name!);
  }
});

t.test('a file given with CRLF line ends is not flagged for comments and docstrings', async (t) => {
  const crlf = GIVEN.replace(/\n/g, '\r\n');
  for (const [instance, after, line] of ANSWERS) {
    for (const [how, eol] of [
      ['keeping CRLF', '\r\n'],
      ['with an LF line', '\n'],
    ]) {
      const result = gradeChanges(instance, changes(crlf, answer(crlf, after, line, eol)));
      t.equal(result.reward, 1, `${instance.task}, ${how}`);
    }
  }
});

t.test('comments and docstrings Python reads as such are not flagged', async (t) => {
  const doc = answer(GIVEN, 5, '    """Return the area\rof a w by h rectangle."""');
  t.same(codeChanges(changes(GIVEN, doc)), [], 'a CR inside a docstring');
  t.same(codeChanges(changes(GIVEN, GIVEN.replace('\n\n\ndef total', '\n\n\f\ndef total'))), [], 'a form feed line between definitions');
  t.same(codeChanges(changes(GIVEN, GIVEN.replace('# Geometry helpers.', '# -*- coding: latin-1 -*-'))), [], 'a latin-1 declaration on an ASCII file');
  t.same(codeChanges(changes(GIVEN, `\uFEFF${GIVEN}`)), [], 'a byte-order mark');
});

t.test('a file the parse and Python disagreed on before the episode counts as changed', async (t) => {
  const given = GIVEN.replace('    return w * h', '  \treturn w * h');
  t.ok(readAsPython(given).distrust);
  t.same(codeChanges(changes(given, `${given}# a comment\n`)).map((c) => c.file), ['geo.py']);
});

t.test('changes that take longer than the grading allows to parse are code changes, not a stalled server', async (t) => {
  // Comment lines after an indented block: tree-sitter's time grows with the square of the run.
  const slow = (name: string) => `${GIVEN}\n\ndef ${name}():\n    pass\n${`# ${'p'.repeat(600)}\n`.repeat(1500)}`;
  const files = ['a.py', 'b.py', 'c.py', 'd.py'];
  const modified = files.map((path) => ({ path, before: GIVEN, after: slow(path.slice(0, 1)) }));
  const started = performance.now();
  const found = codeChanges({ modified, deleted: [], added: [] });
  const ms = performance.now() - started;
  t.same(found.map((c) => c.file), files);
  for (const c of found) t.match(c.reason, `not checked: the changes take longer than ${CHECK_MS} ms to parse`);
  t.comment(`checked in ${ms.toFixed(0)} ms`);
  // The same comment run before any block parses at once: only what is slow is refused.
  const quick = `${`# ${'p'.repeat(600)}\n`.repeat(1500)}${GIVEN}`;
  t.same(codeChanges(changes(GIVEN, quick)), []);
});
