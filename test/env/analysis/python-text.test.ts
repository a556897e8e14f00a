import { execFileSync } from 'node:child_process';
import t from 'tap';
import type { SyntaxNode } from '../../../env/analysis/parse.js';
import { ASCII_CODECS, codecName, readAsPython, UTF8_CODECS } from '../../../env/analysis/python-text.js';

type Verdict = 'trusted' | 'distrusted' | 'unparsed';

/** Crafted texts and what the reading must make of each. */
const CASES: [name: string, text: string, verdict: Verdict][] = [
  ['plain', 'def f(x):\n    """Doc."""\n    return x\n', 'trusted'],
  ['empty', '', 'trusted'],
  ['blank lines only', '  \n\n', 'trusted'],
  ['comments only', '# a\n  # b\n', 'trusted'],
  ['no final newline', 'x = 1', 'trusted'],
  ['CRLF', 'def f(x):\r\n    """Doc."""\r\n    return x\r\n', 'trusted'],
  ['lone CR in a comment', '# note\rimport sys\n', 'trusted'],
  ['lone CR after code', 'def f():\r    return 1\r', 'trusted'],
  ['lone CR in a docstring', 'def f():\n    """a\rimport os"""\n    return 1\n', 'trusted'],
  ['lone CR in a short string', 'x = "a\rb"\n', 'unparsed'],
  ['CR then an indented line', 'def f():\n    return 1  # c\r    import os\n', 'trusted'],
  ['BOM', '\uFEFFx = 1\n', 'trusted'],
  ['BOM with utf-8', '\uFEFF# coding: utf-8\nx = 1\n', 'trusted'],
  ['BOM with latin-1', '\uFEFF# coding: latin-1\nx = 1\n', 'distrusted'],
  ['second BOM', '\uFEFF\uFEFFx = 1\n', 'distrusted'],
  ['utf-7', '# -*- coding: utf-7 -*-\nx = 1  # +AAo-import os\n', 'distrusted'],
  ['utf-7 on line 2', '#!/usr/bin/env python\n# vim: set fileencoding=utf-7 :\nx = 1  # +AAo-import os\n', 'distrusted'],
  ['utf-7 after a CR line', '#\r# coding: utf-7\n# +AAo-import os\n', 'distrusted'],
  ['utf-7 after a form feed', '\f# coding: utf-7\n# +AAo-import os\n', 'distrusted'],
  ['unicode_escape', '# coding: unicode_escape\n# \\x0aimport os\n', 'distrusted'],
  ['raw_unicode_escape', '# coding: raw_unicode_escape\n# \\u000aimport os\n', 'distrusted'],
  ['utf-16', '# coding: utf-16\nx = 1\n', 'distrusted'],
  ['unicode_escape after U+2028', '# \u2028 coding: unicode_escape\n# \\x0aimport os\n', 'distrusted'],
  ['raw_unicode_escape after U+2029', '#!python\n# \u2029 coding: raw_unicode_escape\n# \\u000aimport os\n', 'distrusted'],
  ['unknown coding', '# coding: foobar\nx = 1\n', 'distrusted'],
  ['utf-8 with a bad suffix', '# coding: utf-8xyz\nx = 1\n', 'distrusted'],
  ['coding after code is ignored', 'x = 1\n# coding: utf-7\n# +AAo-import os\n', 'trusted'],
  ['coding on line 3 is ignored', '#\n\n# coding: utf-7\n# +AAo-import os\n', 'trusted'],
  ['latin-1, ASCII text', '# -*- coding: Latin-1 -*-\nx = "a"\n', 'trusted'],
  ['latin-1, other text', '# -*- coding: latin-1 -*-\nx = "\u00e9"\n', 'distrusted'],
  ['iso8859_15', '# coding=iso8859_15\nx = 1\n', 'trusted'],
  ['cp1252', '# coding: cp1252\nx = 1\n', 'trusted'],
  ['UTF8, other text', '# coding: UTF8\nx = "\u00e9"\n', 'trusted'],
  ['utf_8_sig', '# coding: utf_8_sig\nx = 1\n', 'trusted'],
  ['utf-8-unix', '# coding: utf-8-unix\nx = 1\n', 'trusted'],
  ['ascii, other text', '# coding: ascii\nx = "\u00e9"\n', 'distrusted'],
  ['NUL', 'x = 1  # \0\n', 'distrusted'],
  ['form feed before a def', '\fdef f():\n    pass\n', 'trusted'],
  ['form feed line in a body', 'def f():\n    x = 1\n\f\n    y = 2\n', 'trusted'],
  ['form feed in the indentation', 'def f():\n    x = 1\n\f    y = 2\n', 'trusted'],
  ['form feed dedents', 'def f():\n    x = 1\n    \fy = 2\n', 'trusted'],
  ['form feed mid-line', 'x = 1\f+ 2\n', 'trusted'],
  ['form feed to a bad dedent', 'if 1:\n    a = 1\n  \f  b = 2\n', 'distrusted'],
  ['form feed after spaces', 'if 1:\n    a = 1\n    \f  b = 2\n', 'distrusted'],
  ['vertical tab between tokens', 'x = 1\v+ 2\n', 'distrusted'],
  ['vertical tab in a comment', '# a\vimport os\n', 'trusted'],
  ['U+2028 in a comment', '# a\u2028import os\n', 'trusted'],
  ['U+0085 in a comment', '# a\u0085import os\n', 'trusted'],
  ['U+2029 in a string', 'x = "a\u2029b"\n', 'trusted'],
  ['U+2028 between tokens', 'x = 1\u2028\n', 'unparsed'],
  ['U+2028 as a line break', 'x = 1\u2028y = 2\n', 'unparsed'],
  ['no-break space between tokens', 'x = 1\u00a0+ 2\n', 'unparsed'],
  ['zero-width space', '\u200Bx = 1\n', 'distrusted'],
  ['tabs', 'if 1:\n\tx = 1\n\tif 2:\n\t\ty = 2\n', 'trusted'],
  ['tab then spaces', 'if 1:\n\t  x = 1\n\t  y = 2\n', 'trusted'],
  ['spaces then tab', 'if 1:\n  \tx = 1\n', 'distrusted'],
  ['spaces then tab, TabError', 'if 1:\n  \tx = 1\n\ty = 2\n', 'distrusted'],
  ['tab and eight spaces', 'if 1:\n\tx = 1\n        y = 2\n', 'distrusted'],
  ['tab deeper than spaces', 'if 1:\n    if 2:\n\tx = 1\n', 'distrusted'],
  ['continuation', 'x = 1 + \\\n    2\n', 'trusted'],
  ['continuation after a colon', 'if x: \\\n    y = 1\n', 'trusted'],
  ['backslash ending a comment', '# comment \\\nx = 1\n', 'trusted'],
  ['continuation into a comment', 'x = 1 + \\\n# c\n2\n', 'distrusted'],
  ['continuation in indentation', 'if 1:\n  \\\n    x = 1\n', 'distrusted'],
  ['backslash at the end', 'x = 1\\', 'distrusted'],
  ['unexpected indent', 'x = 1\n    y = 2\n', 'distrusted'],
  ['empty block', 'if x:\n', 'distrusted'],
  ['empty block before code', 'if x:\ny = 1\n', 'distrusted'],
  ['dedent to no level', 'if 1:\n        a\n    b\n', 'distrusted'],
  ['N escape around a quote', 'x = "\\N{" + "}"\n', 'distrusted'],
  ['N escape in a docstring', 'def f():\n    """\\N{"""; import os; """}"""\n', 'distrusted'],
  ['raw string, escaped quote', 'x = r"\\"" + r\'\\\\\'\n', 'trusted'],
  ['raw docstring, escaped quote', 'def f():\n    r"""a\\""" """\n    return 1\n', 'trusted'],
  ['ur prefix', 'def f():\n    ur"""Doc."""\n', 'distrusted'],
  ['t prefix', 'x = t"{a}"\n', 'distrusted'],
  ['backquotes', 'x = `y`\n', 'distrusted'],
  ['f-string, other quotes', 'x = f"{a[\'b\']}"\n', 'trusted'],
  ['f-string, same quotes', 'x = f"{a["b"]}"\n', 'distrusted'],
  ['f-string with a comment', 'x = f"""{a # c\n}"""\n', 'distrusted'],
  ['short x escape', 'def f():\n    """Doc \\x4."""\n', 'distrusted'],
  ['U escape past Unicode', 'x = "\\U00110000"\n', 'distrusted'],
  ['empty N escape', 'x = "\\N{}"\n', 'distrusted'],
  ['good escapes', 'x = "\\x41\\u00e9\\U0001F600\\N{EM DASH}\\q" + f"\\N{EM DASH}{x}"\n', 'trusted'],
  ['escapes in raw and bytes literals', 'x = r"\\x\\N" + b"\\u12\\N{" + rb"\\x"\n', 'trusted'],
  ['bytes, non-ASCII', 'x = b"\u00e9"\n', 'distrusted'],
  ['identifier, non-ASCII', '\u00e9t\u00e9 = 1\n', 'trusted'],
  ['decorators, classes, match', '@a\n@b(1)\nclass C(D):\n    x: int = 1\n\n    async def m(self):\n        match self.x:\n            case 1 | 2:\n                pass\n            case _:\n                return [\n  1,\n\t2]\n', 'trusted'],
  ['try', 'try:\n    a()\nexcept* E as e:\n    pass\nelse:\n    b()\nfinally:\n    c()\n', 'trusted'],
  ['one-line blocks', 'if a: b; c\nelif d: e\nelse: f\nwhile g: break\nclass K: pass\n', 'trusted'],
  ['comments around dedents', 'def f():\n    if a:\n        b\n        # deeper\n  # shallower\n    c\n# top\nd\n', 'trusted'],
];

/** One python3 for the whole table: its AST of the bytes, its AST of our text, and its tokenizer's tokens of our text. */
const PYTHON = String.raw`
import ast, codecs, json, sys, warnings, _tokenize, token as T
warnings.simplefilter('ignore')
def tree(b):
    try: return ast.dump(ast.parse(b), include_attributes=True)
    except (SyntaxError, ValueError) as e: return 'refused: ' + type(e).__name__
def tokens(text):
    out, depth = [], 0
    try:
        for s, ty, line, *_ in _tokenize.TokenizerIter(text):
            if ty == T.INDENT: depth += 1
            elif ty == T.DEDENT: depth -= 1
            elif ty not in (T.NEWLINE, T.NL, T.COMMENT, T.ENDMARKER): out.append([s, line, depth])
    except (SyntaxError, ValueError) as e: return 'refused: ' + type(e).__name__
    return out
req = json.load(sys.stdin)
ascii = ''.join(map(chr, range(128)))
json.dump({
  'version': '%d.%d' % sys.version_info[:2],
  'cases': [{'raw': tree(c['raw'].encode('utf-8', 'surrogatepass')), 'read': tree(c['read'].encode()), 'tokens': tokens(c['read'])} for c in req['cases']],
  'utf8': {n: codecs.lookup(n).name for n in req['utf8']},
  'ascii': {n: bytes(range(128)).decode(n) == ascii for n in req['ascii']},
  'names': {n: codecs.lookup(n).name for n in req['names']},
}, sys.stdout)
`;

interface PythonView {
  version: string;
  cases: { raw: string; read: string; tokens: [string, number, number][] | string }[];
  utf8: Record<string, string>;
  ascii: Record<string, boolean>;
  names: Record<string, string>;
}

const SPELLINGS = ['Latin-1', 'ISO-8859-1', 'iso_8859_15', 'UTF8', 'Utf_8', 'Windows-1252', 'KOI8-R', 'US-ASCII'];

const readings = CASES.map(([, text]) => readAsPython(text));
const python = JSON.parse(
  execFileSync('python3', ['-c', PYTHON], {
    input: JSON.stringify({ cases: CASES.map(([, raw], i) => ({ raw, read: readings[i]!.text })), utf8: [...UTF8_CODECS], ascii: [...ASCII_CODECS], names: SPELLINGS.flatMap((s) => [s, codecName(s)]) }),
    maxBuffer: 64 * 2 ** 20,
  }).toString(),
) as PythonView;

/** tree-sitter's tokens as Python's tokenizer gives them: strings whole, comments left out, with the INDENT depth. */
function treeTokens(root: SyntaxNode, text: string): [string, number, number][] {
  const out: [string, number, number][] = [];
  const visit = (node: SyntaxNode, depth: number) => {
    if (node.type === 'comment' || node.type === 'line_continuation') return;
    if (node.childCount === 0 || node.type === 'string') {
      if (node !== root) out.push([node.text, node.startPosition.row + 1, depth]);
      return;
    }
    // A block is indented when its first statement starts after a line end (not a continuation) following the colon.
    const first = node.type === 'block' ? node.firstNamedChild : null;
    const between = first && node.previousSibling ? text.slice(node.previousSibling.endIndex, first.startIndex).replace(/\\\n/g, '') : '';
    const inner = depth + (/\n/.test(between) ? 1 : 0);
    for (const child of node.children) visit(child, inner);
  };
  visit(root, 0);
  return out;
}

t.test('the host python3 is the sandbox image\'s 3.11, which the table speaks for', async (t) => {
  t.equal(python.version, '3.11');
});

t.test('each crafted text gets its verdict', async (t) => {
  CASES.forEach(([name, , verdict], i) => {
    const r = readings[i]!;
    const got: Verdict = r.distrust !== null ? 'distrusted' : 'error' in r.parsed ? 'unparsed' : 'trusted';
    t.equal(got, verdict, `${name}${r.distrust ? `: ${r.distrust}` : ''}`);
  });
});

t.test('whenever the reading is trusted, Python reads the bytes as the reading, and tokenizes it as tree-sitter parses it', async (t) => {
  let trusted = 0;
  CASES.forEach(([name], i) => {
    const r = readings[i]!;
    if (r.distrust !== null || 'error' in r.parsed) return;
    trusted++;
    const py = python.cases[i]!;
    t.equal(py.raw, py.read, `${name}: the same module from the bytes and from the reading`);
    t.same(treeTokens(r.parsed.tree.rootNode, r.text), py.tokens, `${name}: the same tokens, lines and indentation`);
  });
  t.ok(trusted >= 40, `${trusted} trusted cases`);
});

t.test('the codecs taken as UTF-8 or as ASCII-preserving are so in Python, and declared names are looked up as Python does', async (t) => {
  for (const name of UTF8_CODECS) t.equal(python.utf8[name], 'utf-8', name);
  for (const name of ASCII_CODECS) t.ok(python.ascii[name], name);
  for (const s of SPELLINGS) t.equal(python.names[codecName(s)], python.names[s], s);
});
