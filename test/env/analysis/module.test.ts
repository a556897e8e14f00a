import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { analyzeModule, moduleName } from '../../../env/analysis/module.js';
import { MAX_FILE_CHARS, parsePython } from '../../../env/analysis/parse.js';
import { analyzeRepo, pythonFiles, readSource } from '../../../env/analysis/repo.js';
import type { Definition, ModuleAnalysis } from '../../../env/analysis/types.js';

function py(...lines: string[]): string {
  return `${lines.join('\n')}\n`;
}

function analysis(file: string, source: string): ModuleAnalysis {
  const result = analyzeModule(file, source);
  if ('error' in result) throw new Error(result.error);
  return result.analysis;
}

function byQualname(a: ModuleAnalysis, qualname: string): Definition {
  const def = a.definitions.find((d) => d.qualname === qualname);
  if (!def) throw new Error(`no ${qualname}`);
  return def;
}

const SOURCE = py(
  '"""Module docstring."""', // 1
  'import functools',
  '',
  '',
  'def deco(fn):', // 5
  '    return fn',
  '',
  '',
  '@deco',
  '@functools.lru_cache(', // 10
  '    maxsize=None,',
  ')',
  'def decorated(',
  '    a,',
  '    b=1,', // 15
  ') -> int:',
  '    """Add two numbers together.',
  '    More detail.',
  '        Indented detail.',
  '    """', // 20
  '    return a + b',
  '',
  '',
  'class Shape(object, metaclass=type):',
  '    """A shape on the plane."""', // 25
  '',
  '    def area(self):',
  '        return 0',
  '',
  '    class Inner:', // 30
  '        def deep(self):',
  '            pass',
  '',
  '',
  'def outer():', // 35
  '    def inner(x=deco(1)):',
  '        return x',
  '    return inner',
  '',
  '', // 40
  'def one_line(): """Inline docstring here."""',
  '',
  '',
  'def doc_only():',
  "    r'''Raw \\n text.'''", // 45
  '',
  '',
  'def shares_line():',
  '    """Shares its line with code."""; x = 1',
  '    return x', // 50
  '',
  '',
  'def f_string():',
  '    f"""Not a docstring {x}."""',
  '    return 1', // 55
  '',
  '',
  'def commented():',
  '    # a comment first',
  "    'Single quoted docstring.'", // 60
  '    return 1',
  '',
  '',
  'def top(x=deco(2)):',
  '    return x', // 65
);

t.test('moduleName', async (t) => {
  t.same(moduleName('pkg/sub/mod.py'), { module: 'pkg.sub.mod', isPackage: false });
  t.same(moduleName('pkg/__init__.py'), { module: 'pkg', isPackage: true });
  t.same(moduleName('top.py'), { module: 'top', isPackage: false });
});

t.test('definitions: qualnames, kinds, parents, bases', async (t) => {
  const a = analysis('pkg/shapes.py', SOURCE);
  t.equal(a.module, 'pkg.shapes');
  t.equal(a.isPackage, false);
  t.same(
    a.definitions.map((d) => [d.qualname, d.kind, d.parent]),
    [
      ['deco', 'function', null],
      ['decorated', 'function', null],
      ['Shape', 'class', null],
      ['Shape.area', 'method', 'Shape'],
      ['Shape.Inner', 'class', 'Shape'],
      ['Shape.Inner.deep', 'method', 'Shape.Inner'],
      ['outer', 'function', null],
      ['outer.inner', 'function', 'outer'],
      ['one_line', 'function', null],
      ['doc_only', 'function', null],
      ['shares_line', 'function', null],
      ['f_string', 'function', null],
      ['commented', 'function', null],
      ['top', 'function', null],
    ],
  );
  for (const d of a.definitions) {
    t.equal(d.module, 'pkg.shapes');
    t.equal(d.file, 'pkg/shapes.py');
    t.equal(d.name, d.qualname.split('.').pop());
  }
  t.same(byQualname(a, 'Shape').bases, ['object'], 'keyword arguments are not bases');
  t.same(byQualname(a, 'deco').bases, []);
  t.same(a.imports, [{ local: 'functools', target: 'functools', kind: 'module' }]);
});

t.test('spans: definition, def line, decorators, signature, body', async (t) => {
  const a = analysis('pkg/shapes.py', SOURCE);
  const decorated = byQualname(a, 'decorated');
  t.same([decorated.span.start, decorated.span.end], [9, 21], 'from the first decorator to the end of the body');
  t.equal(SOURCE.slice(decorated.span.startIndex, decorated.span.endIndex).split('\n')[0], '@deco');
  t.ok(SOURCE.slice(decorated.span.startIndex, decorated.span.endIndex).endsWith('return a + b'));
  t.equal(decorated.defLine, 13);
  t.same(decorated.decorators, { start: 9, end: 12 }, 'a multi-line decorator ends where its call closes');
  t.same(decorated.signature, { start: 13, end: 16 }, 'a multi-line signature ends at the colon');
  t.same([decorated.body.start, decorated.body.end], [17, 21]);

  const deco = byQualname(a, 'deco');
  t.equal(deco.decorators, null);
  t.same([deco.span.start, deco.span.end, deco.defLine], [5, 6, 5]);
  t.same(deco.signature, { start: 5, end: 5 });

  const area = byQualname(a, 'Shape.area');
  t.same([area.span.start, area.span.end, area.defLine], [27, 28, 27]);
  const shape = byQualname(a, 'Shape');
  t.same([shape.span.start, shape.span.end], [24, 32]);
  t.same(shape.signature, { start: 24, end: 24 });
  t.same(byQualname(a, 'one_line').signature, { start: 41, end: 41 });
});

t.test('docstrings: span, raw, cleaned text, own lines, following statements', async (t) => {
  const a = analysis('pkg/shapes.py', SOURCE);
  t.equal(a.docstring?.text, 'Module docstring.');

  const doc = byQualname(a, 'decorated').docstring!;
  t.same([doc.span.start, doc.span.end], [17, 20]);
  t.equal(SOURCE.slice(doc.span.startIndex, doc.span.endIndex), doc.raw);
  t.ok(doc.raw.startsWith('"""Add two') && doc.raw.endsWith('"""'));
  t.equal(doc.text, 'Add two numbers together.\nMore detail.\n    Indented detail.', 'cleaned like inspect.cleandoc');
  t.equal(doc.ownLines, true);
  t.equal(doc.hasFollowingStatements, true);

  t.equal(byQualname(a, 'Shape').docstring?.text, 'A shape on the plane.', 'a class docstring');
  t.equal(byQualname(a, 'Shape.area').docstring, null);

  const inline = byQualname(a, 'one_line').docstring!;
  t.equal(inline.text, 'Inline docstring here.');
  t.equal(inline.ownLines, false, 'on the def line');
  t.equal(inline.hasFollowingStatements, false);

  const raw = byQualname(a, 'doc_only').docstring!;
  t.equal(raw.text, 'Raw \\n text.', 'a raw string keeps its backslashes');
  t.equal(raw.hasFollowingStatements, false, 'the docstring is the whole body');
  t.equal(raw.ownLines, true);

  const shared = byQualname(a, 'shares_line').docstring!;
  t.equal(shared.ownLines, false, 'code after it on the same line');
  t.equal(shared.hasFollowingStatements, true);

  t.equal(byQualname(a, 'f_string').docstring, null, 'an f-string is not a docstring');
  const commented = byQualname(a, 'commented').docstring!;
  t.equal(commented.text, 'Single quoted docstring.', 'comments before the docstring are skipped');
  t.same([commented.span.start, commented.span.end], [60, 60]);
});

t.test('docstrings: nextIsString when a second string literal follows', async (t) => {
  const a = analysis('m.py', py('def two():', '    """First."""', '    # between', '    """Second."""', '    return 1', '', '', 'def one():', '    """Only."""', '    return 1'));
  t.equal(byQualname(a, 'two').docstring?.nextIsString, true);
  t.equal(byQualname(a, 'one').docstring?.nextIsString, false);
});

t.test('calls: owners, lines, default values belong to the enclosing scope', async (t) => {
  const a = analysis('pkg/shapes.py', SOURCE);
  t.same(byQualname(a, 'outer').calls, [{ line: 36, callee: 'deco', inLambda: false }], 'a call in a nested default value runs in outer');
  t.same(byQualname(a, 'outer.inner').calls, []);
  t.same(byQualname(a, 'top').calls, [], 'a call in a module-level default value belongs to no definition');
  t.same(byQualname(a, 'decorated').calls, [], 'decorator calls run where the def is, not in its body');
  t.same(byQualname(a, 'deco').calls, []);
});

t.test('imports: absolute, aliased, relative, in a package and in a module', async (t) => {
  const src = py(
    'import a.b.c',
    'import x.y as z',
    'from . import sibling',
    'from .mod import f as g, h',
    'from .. import up',
    'from ...far.away import thing',
    'from abs.olute import (p, q as r)',
  );
  t.same(analysis('pkg/sub/m.py', src).imports, [
    { local: 'a', target: 'a', kind: 'module' },
    { local: 'z', target: 'x.y', kind: 'module' },
    { local: 'sibling', target: 'pkg.sub.sibling', kind: 'from', from: 'pkg.sub', name: 'sibling', relative: true },
    { local: 'g', target: 'pkg.sub.mod.f', kind: 'from', from: 'pkg.sub.mod', name: 'f', relative: true },
    { local: 'h', target: 'pkg.sub.mod.h', kind: 'from', from: 'pkg.sub.mod', name: 'h', relative: true },
    { local: 'up', target: 'pkg.up', kind: 'from', from: 'pkg', name: 'up', relative: true },
    { local: 'thing', target: 'far.away.thing', kind: 'from', from: 'far.away', name: 'thing', relative: true },
    { local: 'p', target: 'abs.olute.p', kind: 'from', from: 'abs.olute', name: 'p' },
    { local: 'r', target: 'abs.olute.q', kind: 'from', from: 'abs.olute', name: 'q' },
  ]);
  const init = analysis('pkg/sub/__init__.py', py('from . import m', 'from .. import top'));
  t.equal(init.isPackage, true);
  t.same(init.imports.map((i) => i.target), ['pkg.sub.m', 'pkg.top'], 'in __init__ one dot is the package itself');
  t.same(analysis('m.py', py('X = 1', 'Y: int = 2', 'a.b = 3', 'def f():', '    Z = 4')).assigned, ['X', 'Y'], 'module-level names only');
});

t.test('syntax errors are reported with their line, not thrown', async (t) => {
  const cases: [string, number][] = [
    [py('def broken(:', '    pass'), 1],
    [py('def ok():', '    pass', '', 'def broken(:'), 4],
    [py('x = 1', 'y = (', 'z = 2'), 2],
    [py('x = 1', '', 'y = = 2'), 3],
  ];
  for (const [source, line] of cases) {
    const result = analyzeModule('bad.py', source);
    t.same(result, { error: `syntax error near line ${line}` }, JSON.stringify(source));
  }
});

t.test('analyzeRepo: a syntax error and an oversized file are skipped, the rest analysed', async (t) => {
  const root = t.testdir({
    'a_bad.py': py('def ok():', '    pass', '', 'def broken(:'),
    'b_good.py': py('def fine():', '    return 1'),
    'c_huge.py': '',
    'notes.txt': 'not python',
    __pycache__: { 'x.py': 'def hidden(): pass\n' },
    '.hidden': { 'y.py': 'def hidden(): pass\n' },
    build: { 'z.py': 'def hidden(): pass\n' },
  });
  writeFileSync(join(root, 'c_huge.py'), `x = 1\n${'#'.repeat(MAX_FILE_CHARS)}\n`);
  t.same(await pythonFiles(root), ['a_bad.py', 'b_good.py', 'c_huge.py'], 'caches, hidden and build directories are not walked');
  const a = await analyzeRepo(root, { threads: 1 });
  t.same(a.modules.map((m) => m.file), ['b_good.py']);
  t.same(a.skipped.map((s) => s.file), ['a_bad.py', 'c_huge.py']);
  t.match(a.skipped[0]!.reason, /syntax error near line 4/);
  t.match(a.skipped[1]!.reason, new RegExp(`larger than ${MAX_FILE_CHARS}`));
  t.equal(a.stats.files, 3);
  t.ok(a.index.definition('b_good', 'fine'));
  t.equal(await readSource(root, 'b_good.py'), py('def fine():', '    return 1'));
});

t.test('analyzeRepo reports progress per file and is the same on worker threads', async (t) => {
  // Enough files to go past the in-process threshold and start workers.
  const files: Record<string, string> = {};
  for (let i = 0; i < 70; i++) files[`m${String(i).padStart(2, '0')}.py`] = py(`def f${i}():`, `    return g${i}()`, '', '', `def g${i}():`, '    return 1');
  const root = t.testdir(files);
  const progress: number[] = [];
  const one = await analyzeRepo(root, { threads: 1, onFile: (done) => progress.push(done) });
  t.same(progress, Array.from({ length: 70 }, (_, i) => i + 1));
  const many = await analyzeRepo(root, { threads: 2 });
  t.same(many.modules, one.modules, 'the same analyses in the same order');
  t.same(many.skipped, []);
  t.same(many.index.dependencies(many.index.definition('m42', 'f42')!).map((d) => d.qualname), ['g42']);
});

t.test('callees read from the text: only where the call starts with a dotted name and its parenthesis', async (t) => {
  const a = analysis('m.py', py(
    'def f():',
    '    a.b(x)(y)', // 2: calls a.b(x)'s result, then a.b
    '    a.b(x).c()', // 3
    '    a . b (x)', // 4
    '    (a  # comment',
    '     .b  # comment',
    '     (x))', // 7
    '    d[k].m()', // 8
    '    "".join(p)', // 9
    '    super().run()', // 10
    '    g(h(1), i.j(2))', // 11
    '    print (1)', // 12
    '    (lambda: 0)()', // 13
  ));
  t.same(byQualname(a, 'f').calls, [
    { line: 2, callee: null, inLambda: false },
    { line: 2, callee: 'a.b', inLambda: false },
    { line: 3, callee: null, method: 'c', inLambda: false },
    { line: 3, callee: 'a.b', inLambda: false },
    { line: 4, callee: 'a.b', inLambda: false },
    { line: 5, callee: null, method: 'b', inLambda: false }, // comments inside: read from the tree
    { line: 8, callee: null, method: 'm', inLambda: false },
    { line: 9, callee: null, method: 'join', builtinReceiver: true, inLambda: false },
    { line: 10, callee: 'super().run', inLambda: false },
    { line: 10, callee: 'super', inLambda: false },
    { line: 11, callee: 'g', inLambda: false },
    { line: 11, callee: 'h', inLambda: false },
    { line: 11, callee: 'i.j', inLambda: false },
    { line: 12, callee: 'print', inLambda: false },
    { line: 13, callee: null, inLambda: false },
  ]);
});

t.test('names bound by assignments, read from the text for one name and from the tree otherwise', async (t) => {
  const a = analysis('m.py', py(
    'A = 1',
    'B: int = 2',
    'C += 3',
    'D //= 4',
    'E, F = 5, 6',
    '[G, *H] = I',
    'J.k = 7',
    'L[0] = 8',
    'M == 9',
    'N = O = 10',
    'def f(p, q: int = 1, *r, s=g(), **t):',
    '    u = 1',
    '    v: str',
    '    w **= 2',
    '    x.y = 3',
    '    for i, (j, k) in z: pass',
    '    with open(p) as fh: pass',
    '    [n for n in r]',
  ));
  t.same(a.assigned, ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'N', 'O']);
  t.same(byQualname(a, 'f').locals, ['p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'i', 'j', 'k', 'fh', 'n']);
});

t.test('signatures end at the colon before the body, past comments and annotations', async (t) => {
  const a = analysis('m.py', py(
    'def f(a: int,', // 1
    '      b: "x: y") -> dict[str,', // 2
    '                          int]:  # a comment: with a colon', // 3
    '    return a', // 4
    'class C(', // 5
    '    B):', // 6
    '    # only a comment: here', // 7
    '    pass',
    'def g(a):', // 9
    '    # a comment that ends with a colon:',
    '    pass',
  ));
  t.same(byQualname(a, 'f').signature, { start: 1, end: 3 });
  t.same(byQualname(a, 'C').signature, { start: 5, end: 6 });
  t.same(byQualname(a, 'g').signature, { start: 9, end: 9 });
});

t.test('docstrings: found whatever opens the body, and only string literals count', async (t) => {
  const a = analysis('m.py', py(
    '',
    '',
    "'''Module after blank lines.'''",
    'def f(): ...',
    'def g(): u"Prefixed."',
    "def h(): rb'bytes'",
    'def i():',
    '    # a comment first',
    '    "After a comment."',
    'def j(): -1',
  ));
  t.equal(a.docstring?.text, 'Module after blank lines.');
  t.same(a.definitions.map((d) => d.docstring?.text ?? null), [null, 'Prefixed.', null, 'After a comment.', null]);
  const bom = analysis('m.py', '\ufeff"""After a byte order mark."""\n');
  t.equal(bom.docstring?.text, 'After a byte order mark.');
});

t.test('one parse analysed again gives the same imports (nodes are compared by position, not identity)', async (t) => {
  const source = py(
    ...Array.from({ length: 200 }, (_, i) => `from pkg${i}.sub import name${i}, other${i} as o${i}`),
    ...Array.from({ length: 2000 }, (_, i) => `x${i} = f(${i})`),
  );
  const parsed = parsePython(source);
  const counts = Array.from({ length: 5 }, () => {
    const result = analyzeModule('m.py', source, parsed);
    return 'analysis' in result ? result.analysis.imports.length : -1;
  });
  t.same(counts, [400, 400, 400, 400, 400]);
});

t.test('names read from the text stop nowhere inside an identifier (combining marks)', async (t) => {
  const a = analysis('m.py', py('def cafe\u0301(x\u0301, y):', '    z\u0301 = 1', 'class C\u0301[T](B):', '    pass', 'def f[T](a): pass'));
  t.same(a.definitions.map((d) => [d.name, d.locals]), [['cafe\u0301', ['x\u0301', 'y', 'z\u0301']], ['C\u0301', []], ['f', ['a']]]);
});
