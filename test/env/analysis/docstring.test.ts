import t from 'tap';
import { cleandoc, findDocstring, isRealDocstring, literalValue, textSpan } from '../../../env/analysis/docstring.js';
import { parsePython } from '../../../env/analysis/parse.js';

t.test('literalValue', async (t) => {
  t.equal(literalValue('"""Plain."""'), 'Plain.');
  t.equal(literalValue("'single'"), 'single');
  t.equal(literalValue('"a\\tb\\nc \\"q\\" \\\\ \\x41"'), 'a\tb\nc "q" \\ \\x41', 'common escapes; others kept as written');
  t.equal(literalValue('r"""a\\nb"""'), 'a\\nb', 'raw strings keep backslashes');
  t.equal(literalValue('u"text"'), 'text');
  t.equal(literalValue('"""line one \\\nline two"""'), 'line one line two', 'a backslash-newline joins lines');
  t.equal(literalValue('"unclosed'), null);
  t.equal(literalValue("'''mismatched\"\"\""), null);
});

t.test('cleandoc behaves like inspect.cleandoc', async (t) => {
  t.equal(cleandoc('Summary.'), 'Summary.');
  t.equal(cleandoc('  Summary.\n\n    Body line.\n      Deeper.\n    '), 'Summary.\n\nBody line.\n  Deeper.');
  t.equal(cleandoc('\n    Starts on the next line.\n    '), 'Starts on the next line.');
  t.equal(cleandoc('Tabs.\n\tIndented by a tab.\n\t\tTwo.'), 'Tabs.\nIndented by a tab.\n        Two.', 'tabs expand to eight spaces');
  t.equal(cleandoc('\n\n   \n'), '');
});

t.test('isRealDocstring', async (t) => {
  const real = [
    'Return the sum of two numbers.',
    'Parse a header line into its fields.\n\nArgs:\n  line: the line.',
    '\n\nCompute the hash of the given data.',
    'Builds an index of every module.',
  ];
  const notReal = [
    '',
    'TODO',
    'TODO: write a proper description here',
    'FIXME this is broken for now',
    '...',
    'foo',
    'Helper.',
    'See also the other function',
    'Deprecated. Use the new one instead',
    ':param x: the value to use here',
    'Docstring for this function goes here',
    'No docs available for this one',
    'x = 1 2 3',
    'Placeholder text for the summary',
  ];
  for (const text of real) t.ok(isRealDocstring(text), `real: ${JSON.stringify(text)}`);
  for (const text of notReal) t.notOk(isRealDocstring(text), `not real: ${JSON.stringify(text)}`);
});

t.test('findDocstring on a module root and textSpan', async (t) => {
  const source = '# comment\n"""Module doc."""\nx = 1\n';
  const parsed = parsePython(source);
  if ('error' in parsed) throw new Error(parsed.error);
  const doc = findDocstring(parsed.tree.rootNode, source)!;
  t.equal(doc.text, 'Module doc.');
  t.same(doc.span, { start: 2, end: 2, startIndex: 10, endIndex: 27 });
  t.same(textSpan(parsed.tree.rootNode.namedChildren[2]!), { start: 3, end: 3, startIndex: 28, endIndex: 33 });
  t.equal(doc.ownLines, true);
  t.equal(doc.hasFollowingStatements, true);

  for (const notDoc of ['b"""bytes"""\n', 'x = 1\n"""late"""\n', '"""a""" + "b"\n']) {
    const p = parsePython(notDoc);
    if ('error' in p) throw new Error(p.error);
    t.equal(findDocstring(p.tree.rootNode, notDoc), null, JSON.stringify(notDoc));
  }
});
