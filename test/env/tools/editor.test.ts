import t from 'tap';
import { SandboxFileError } from '../../../env/sandbox.js';
import { Editor } from '../../../env/tools/editor.js';
import type { Observation } from '../../../env/tools/observation.js';
import type { StrReplaceEditorArgs } from '../../../schemas/tools.js';
import { MemorySandbox, type MemorySandboxOptions } from '../../helpers/memory-sandbox.js';

const BINARY = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0x00, 0x01, 0x0a, 0xff]);

function setup(files: Record<string, string | Uint8Array> = {}, options: MemorySandboxOptions = {}) {
  const sb = new MemorySandbox(options);
  for (const [path, content] of Object.entries(files)) sb.put(path, content);
  const editor = new Editor(sb);
  const run = (args: StrReplaceEditorArgs): Promise<Observation> => editor.run(args);
  const writes = (): number => sb.calls.filter((c) => c.op === 'write' || c.op === 'remove').length;
  return { sb, run, writes };
}

/** The numbered lines of a view, without its header line. */
function body(obs: Observation): string[] {
  return obs.text.split('\n').slice(1);
}

function row(n: number, line: string): string {
  return `${String(n).padStart(6)}\t${line}`;
}

t.test('view', async (t) => {
  t.test('a file shows every line numbered, and nothing else', async (t) => {
    const { run } = setup({ '/workspace/a.py': 'import os\n\ndef f():\n    return 1\n' });
    const obs = await run({ command: 'view', path: '/workspace/a.py' });
    t.notOk(obs.invalid);
    t.match(obs.text, /\/workspace\/a\.py/);
    t.same(body(obs), [row(1, 'import os'), row(2, ''), row(3, 'def f():'), row(4, '    return 1')]);
  });

  t.test('a file without a final newline shows its last line', async (t) => {
    const { run } = setup({ '/workspace/a.txt': 'one\ntwo' });
    t.same(body(await run({ command: 'view', path: '/workspace/a.txt' })), [row(1, 'one'), row(2, 'two')]);
  });

  t.test('an empty file shows no lines', async (t) => {
    const { run } = setup({ '/workspace/empty': '' });
    const obs = await run({ command: 'view', path: '/workspace/empty' });
    t.notOk(obs.invalid);
    t.same(body(obs).filter((l) => l !== ''), []);
  });

  t.test('a long file is cut at a line boundary with a note naming the line count', async (t) => {
    const text = Array.from({ length: 5000 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';
    const { run } = setup({ '/workspace/long.txt': text });
    const obs = await run({ command: 'view', path: '/workspace/long.txt' });
    t.notOk(obs.invalid);
    t.ok(obs.text.length < 35_000, `view is bounded (${obs.text.length} chars)`);
    t.match(obs.text, /5000 lines/);
    t.match(obs.text, /view_range/);
    const numbered = body(obs).filter((l) => /^\s+\d+\t/.test(l));
    t.same(numbered[0], row(1, 'line 1'));
    const last = numbered[numbered.length - 1]!;
    const n = Number(last.trim().split('\t')[0]);
    t.equal(last, row(n, `line ${n}`), 'the last shown line is whole');
  });

  t.test('a directory lists two levels, hidden entries excluded', async (t) => {
    const { run } = setup({
      '/workspace/top.py': 'x\n',
      '/workspace/pkg/__init__.py': '',
      '/workspace/pkg/sub/mod.py': '',
      '/workspace/pkg/sub/deeper/far.py': '',
      '/workspace/.git/config': '',
      '/workspace/pkg/.env': 'SECRET=1\n',
    });
    const obs = await run({ command: 'view', path: '/workspace' });
    t.notOk(obs.invalid);
    const lines = body(obs);
    t.ok(lines.includes('/workspace/top.py'));
    t.ok(lines.includes('/workspace/pkg/'));
    t.ok(lines.includes('/workspace/pkg/__init__.py'));
    t.ok(lines.includes('/workspace/pkg/sub/'));
    t.notOk(lines.some((l) => l.includes('mod.py') || l.includes('deeper')), 'nothing below two levels');
    t.notOk(lines.some((l) => l.includes('.git') || l.includes('.env')), 'no hidden entries');
  });

  t.test('a directory given with a trailing slash lists clean paths', async (t) => {
    const { run } = setup({ '/workspace/pkg/a.py': '' });
    const obs = await run({ command: 'view', path: '/workspace/' });
    t.notOk(obs.invalid);
    t.ok(body(obs).includes('/workspace/pkg/a.py'));
    t.notMatch(obs.text, /\/\//);
  });

  t.test('the root directory lists without a doubled slash', async (t) => {
    const { run } = setup({ '/workspace/a.py': '' });
    const obs = await run({ command: 'view', path: '/' });
    t.ok(body(obs).includes('/workspace/a.py'));
    t.notMatch(obs.text, /\/\//);
  });

  t.test('a cut listing says so', async (t) => {
    const files = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`/workspace/f${i}`, '']));
    const { run } = setup(files, { listLimit: 4 });
    const obs = await run({ command: 'view', path: '/workspace' });
    t.match(obs.text, /cut after 4 entries/);
  });

  t.test('a missing path is invalid', async (t) => {
    const { run } = setup();
    const obs = await run({ command: 'view', path: '/workspace/nope.py' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /\/workspace\/nope\.py/);
    t.match(obs.text, /does not exist/);
  });

  t.test('a binary file is refused', async (t) => {
    const { run } = setup({ '/workspace/a.out': BINARY });
    t.equal((await run({ command: 'view', path: '/workspace/a.out' })).invalid, true);
    t.equal((await run({ command: 'view', path: '/workspace/a.out', view_range: [1, 1] })).invalid, true);
  });

  t.test('a path with .. is normalized', async (t) => {
    const { run } = setup({ '/workspace/a.txt': 'hi\n' });
    const obs = await run({ command: 'view', path: '/workspace/sub/../a.txt' });
    t.same(body(obs), [row(1, 'hi')]);
  });
});

t.test('view_range', async (t) => {
  const text = 'l1\nl2\nl3\nl4\nl5\n';

  t.test('a valid range shows exactly those lines with their numbers', async (t) => {
    const { run } = setup({ '/workspace/f': text });
    const obs = await run({ command: 'view', path: '/workspace/f', view_range: [2, 4] });
    t.notOk(obs.invalid);
    t.same(body(obs), [row(2, 'l2'), row(3, 'l3'), row(4, 'l4')]);
  });

  t.test('end -1 runs to the end of the file', async (t) => {
    const { run } = setup({ '/workspace/f': text });
    t.same(body(await run({ command: 'view', path: '/workspace/f', view_range: [4, -1] })), [row(4, 'l4'), row(5, 'l5')]);
  });

  t.test('a single line, and the last line of a file without a final newline', async (t) => {
    const { run } = setup({ '/workspace/f': 'a\nb\nc' });
    t.same(body(await run({ command: 'view', path: '/workspace/f', view_range: [2, 2] })), [row(2, 'b')]);
    t.same(body(await run({ command: 'view', path: '/workspace/f', view_range: [3, 3] })), [row(3, 'c')]);
  });

  t.test('start past the end is invalid and names the line count', async (t) => {
    const { run } = setup({ '/workspace/f': text });
    const obs = await run({ command: 'view', path: '/workspace/f', view_range: [9, 12] });
    t.equal(obs.invalid, true);
    t.match(obs.text, /\b5 lines\b/);
  });

  t.test('end past the end is invalid', async (t) => {
    const { run } = setup({ '/workspace/f': text });
    const obs = await run({ command: 'view', path: '/workspace/f', view_range: [2, 6] });
    t.equal(obs.invalid, true);
    t.match(obs.text, /\b5 lines\b/);
  });

  t.test('end before start is invalid', async (t) => {
    const { run } = setup({ '/workspace/f': text });
    const obs = await run({ command: 'view', path: '/workspace/f', view_range: [4, 2] });
    t.equal(obs.invalid, true);
    t.match(obs.text, /\b4\b/);
    t.match(obs.text, /\b2\b/);
  });

  t.test('start below 1 is invalid', async (t) => {
    const { run } = setup({ '/workspace/f': text });
    t.equal((await run({ command: 'view', path: '/workspace/f', view_range: [0, 2] })).invalid, true);
  });

  t.test('a range of a directory is invalid', async (t) => {
    const { run } = setup({ '/workspace/d/f': text });
    t.equal((await run({ command: 'view', path: '/workspace/d', view_range: [1, 2] })).invalid, true);
  });

  t.test('a range of a missing file is invalid', async (t) => {
    const { run } = setup();
    const obs = await run({ command: 'view', path: '/workspace/none', view_range: [1, 2] });
    t.equal(obs.invalid, true);
    t.match(obs.text, /does not exist/);
  });

  t.test('a range of a huge file returns only that range', async (t) => {
    const huge = Array.from({ length: 200_000 }, (_, i) => `row ${i + 1}`).join('\n') + '\n';
    const { run } = setup({ '/workspace/huge.txt': huge });
    const obs = await run({ command: 'view', path: '/workspace/huge.txt', view_range: [150_000, 150_003] });
    t.notOk(obs.invalid);
    t.same(body(obs), [row(150_000, 'row 150000'), row(150_001, 'row 150001'), row(150_002, 'row 150002'), row(150_003, 'row 150003')]);
    t.match(obs.text, /200000/);
    const last = await run({ command: 'view', path: '/workspace/huge.txt', view_range: [199_999, -1] });
    t.same(body(last), [row(199_999, 'row 199999'), row(200_000, 'row 200000')]);
  });
});

t.test('relative paths are refused for every command, and nothing is written', async (t) => {
  const { run, writes } = setup({ '/workspace/a.txt': 'x\n' });
  for (const args of [
    { command: 'view', path: 'a.txt' },
    { command: 'create', path: 'workspace/new.txt', file_text: 'x' },
    { command: 'str_replace', path: './a.txt', old_str: 'x', new_str: 'y' },
    { command: 'insert', path: 'a.txt', insert_line: 0, new_str: 'y' },
    { command: 'undo_edit', path: 'a.txt' },
  ] as const) {
    const obs = await run(args);
    t.equal(obs.invalid, true, args.command);
    t.match(obs.text, /absolute/, args.command);
  }
  t.equal(writes(), 0);
});

t.test('create', async (t) => {
  t.test('writes a new file with exactly the given text', async (t) => {
    const { sb, run } = setup();
    sb.mkdir('/workspace');
    const obs = await run({ command: 'create', path: '/workspace/new.py', file_text: 'print(1)\r\nno newline ✓' });
    t.notOk(obs.invalid);
    t.match(obs.text, /\/workspace\/new\.py/);
    t.equal(sb.content('/workspace/new.py'), 'print(1)\r\nno newline ✓');
  });

  t.test('creates missing parent directories', async (t) => {
    const { sb, run } = setup();
    const obs = await run({ command: 'create', path: '/workspace/a/b/c/mod.py', file_text: 'x = 1\n' });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/a/b/c/mod.py'), 'x = 1\n');
    t.ok(body(await run({ command: 'view', path: '/workspace/a' })).includes('/workspace/a/b/c/'));
  });

  t.test('an empty file_text creates an empty file', async (t) => {
    const { sb, run } = setup();
    t.notOk((await run({ command: 'create', path: '/workspace/empty', file_text: '' })).invalid);
    t.equal(sb.content('/workspace/empty'), '');
  });

  t.test('an existing file is not overwritten', async (t) => {
    const { sb, run, writes } = setup({ '/workspace/a.py': 'keep\n' });
    const obs = await run({ command: 'create', path: '/workspace/a.py', file_text: 'new\n' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /already exists/);
    t.equal(sb.content('/workspace/a.py'), 'keep\n');
    t.equal(writes(), 0);
  });

  t.test('an existing directory is not replaced', async (t) => {
    const { run, writes } = setup({ '/workspace/pkg/a.py': '' });
    t.equal((await run({ command: 'create', path: '/workspace/pkg', file_text: 'x' })).invalid, true);
    t.equal(writes(), 0);
  });

  t.test('file_text is required', async (t) => {
    const { sb, run, writes } = setup();
    const obs = await run({ command: 'create', path: '/workspace/x.py' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /file_text/);
    t.equal(sb.content('/workspace/x.py'), undefined);
    t.equal(writes(), 0);
  });

  t.test('a write the filesystem refuses is an invalid observation naming the errno', async (t) => {
    const { sb, run } = setup({}, { readOnly: ['/etc'] });
    const obs = await run({ command: 'create', path: '/etc/x', file_text: 'x' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /EROFS/);
    t.equal(sb.content('/etc/x'), undefined);
    const undo = await run({ command: 'undo_edit', path: '/etc/x' });
    t.equal(undo.invalid, true, 'a refused create leaves no history');
  });
});

t.test('str_replace', async (t) => {
  const original = '#!/usr/bin/env python3\r\n# ünïcode ✓\tand tabs  \ndef f(x):\n    return x + 1\n\n\n# end without newline';

  t.test('one match replaces exactly those bytes and keeps every other byte', async (t) => {
    const { sb, run } = setup({ '/workspace/m.py': original });
    const obs = await run({ command: 'str_replace', path: '/workspace/m.py', old_str: 'x + 1', new_str: 'x + 2' });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/m.py'), original.replace('x + 1', 'x + 2'));
    t.ok(body(obs).includes(row(4, '    return x + 2')), 'the snippet shows the edited line with its number');
  });

  t.test('a multi-line replacement across CRLF and unicode keeps the rest', async (t) => {
    const { sb, run } = setup({ '/workspace/m.py': original });
    const obs = await run({
      command: 'str_replace',
      path: '/workspace/m.py',
      old_str: '\r\n# ünïcode ✓\tand',
      new_str: '\r\n# replaced\n# two lines\tand',
    });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/m.py'), original.replace('\r\n# ünïcode ✓\tand', '\r\n# replaced\n# two lines\tand'));
  });

  t.test('the last bytes of a file without a final newline stay without one', async (t) => {
    const { sb, run } = setup({ '/workspace/m.py': original });
    await run({ command: 'str_replace', path: '/workspace/m.py', old_str: 'end without newline', new_str: 'END' });
    const after = sb.content('/workspace/m.py');
    t.equal(after, original.replace('end without newline', 'END'));
    t.ok(typeof after === 'string' && after.endsWith('# END'));
  });

  t.test('new_str omitted deletes old_str', async (t) => {
    const { sb, run } = setup({ '/workspace/m.py': 'a = 1\nb = 2\nc = 3\n' });
    const obs = await run({ command: 'str_replace', path: '/workspace/m.py', old_str: 'b = 2\n' });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/m.py'), 'a = 1\nc = 3\n');
  });

  t.test('deleting the whole content leaves an empty file', async (t) => {
    const { sb, run } = setup({ '/workspace/m.py': 'only\n' });
    const obs = await run({ command: 'str_replace', path: '/workspace/m.py', old_str: 'only\n', new_str: '' });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/m.py'), '');
  });

  t.test('zero matches is invalid and changes nothing', async (t) => {
    const { sb, run, writes } = setup({ '/workspace/m.py': original });
    const obs = await run({ command: 'str_replace', path: '/workspace/m.py', old_str: 'x + 3', new_str: 'y' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /did not appear/);
    t.equal(sb.content('/workspace/m.py'), original);
    t.equal(writes(), 0);
  });

  t.test('whitespace must match verbatim', async (t) => {
    const { sb, run } = setup({ '/workspace/m.py': 'def f():\n    pass\n' });
    const obs = await run({ command: 'str_replace', path: '/workspace/m.py', old_str: 'def f():\n  pass', new_str: 'x' });
    t.equal(obs.invalid, true);
    t.equal(sb.content('/workspace/m.py'), 'def f():\n    pass\n');
  });

  t.test('several matches is invalid, names the lines and changes nothing', async (t) => {
    const text = 'x = 1\ny = 2\nx = 1\nz = 3\n\nx = 1\n';
    const { sb, run, writes } = setup({ '/workspace/m.py': text });
    const obs = await run({ command: 'str_replace', path: '/workspace/m.py', old_str: 'x = 1', new_str: 'x = 9' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /\b3 times\b/);
    t.match(obs.text, /\b1, 3, 6\b/);
    t.equal(sb.content('/workspace/m.py'), text);
    t.equal(writes(), 0);
  });

  t.test('many matches are reported without listing them all', async (t) => {
    const text = 'pass\n'.repeat(50);
    const { sb, run } = setup({ '/workspace/m.py': text });
    const obs = await run({ command: 'str_replace', path: '/workspace/m.py', old_str: 'pass', new_str: 'return' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /10 or more/);
    t.equal(sb.content('/workspace/m.py'), text);
  });

  t.test('an empty old_str is invalid', async (t) => {
    const { sb, run, writes } = setup({ '/workspace/m.py': original });
    const obs = await run({ command: 'str_replace', path: '/workspace/m.py', old_str: '', new_str: 'x' });
    t.equal(obs.invalid, true);
    t.equal(sb.content('/workspace/m.py'), original);
    t.equal(writes(), 0);
  });

  t.test('old_str missing is invalid', async (t) => {
    const { run, writes } = setup({ '/workspace/m.py': original });
    const obs = await run({ command: 'str_replace', path: '/workspace/m.py', new_str: 'x' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /old_str/);
    t.equal(writes(), 0);
  });

  t.test('old_str equal to new_str is invalid', async (t) => {
    const { sb, run, writes } = setup({ '/workspace/m.py': original });
    const obs = await run({ command: 'str_replace', path: '/workspace/m.py', old_str: 'x + 1', new_str: 'x + 1' });
    t.equal(obs.invalid, true);
    t.equal(sb.content('/workspace/m.py'), original);
    t.equal(writes(), 0);
  });

  t.test('a missing file, a directory and a binary file are invalid', async (t) => {
    const { sb, run, writes } = setup({ '/workspace/d/a.py': '', '/workspace/bin': BINARY });
    for (const path of ['/workspace/none.py', '/workspace/d', '/workspace/bin']) {
      t.equal((await run({ command: 'str_replace', path, old_str: 'a', new_str: 'b' })).invalid, true, path);
    }
    t.equal(sb.content('/workspace/bin'), BINARY);
    t.equal(writes(), 0);
  });

  t.test('a file too large to load is invalid and points at view_range', async (t) => {
    const big = 'y'.repeat(9 * 2 ** 20);
    const { run, writes } = setup({ '/workspace/big.txt': big });
    const obs = await run({ command: 'str_replace', path: '/workspace/big.txt', old_str: 'yy', new_str: 'z' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /too large/);
    t.equal(writes(), 0);
  });
});

t.test('insert', async (t) => {
  const text = 'one\ntwo\nthree\n';

  t.test('after line 0 puts the text at the top', async (t) => {
    const { sb, run } = setup({ '/workspace/f': text });
    const obs = await run({ command: 'insert', path: '/workspace/f', insert_line: 0, new_str: 'zero' });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/f'), 'zero\none\ntwo\nthree\n');
    t.ok(body(obs).includes(row(1, 'zero')));
  });

  t.test('in the middle', async (t) => {
    const { sb, run } = setup({ '/workspace/f': text });
    const obs = await run({ command: 'insert', path: '/workspace/f', insert_line: 2, new_str: 'two and a half\ntwo and three quarters' });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/f'), 'one\ntwo\ntwo and a half\ntwo and three quarters\nthree\n');
    t.ok(body(obs).includes(row(3, 'two and a half')));
    t.ok(body(obs).includes(row(4, 'two and three quarters')));
  });

  t.test('a trailing newline in new_str does not add a blank line', async (t) => {
    const { sb, run } = setup({ '/workspace/f': text });
    await run({ command: 'insert', path: '/workspace/f', insert_line: 1, new_str: 'x\n' });
    t.equal(sb.content('/workspace/f'), 'one\nx\ntwo\nthree\n');
  });

  t.test('an empty new_str inserts one blank line', async (t) => {
    const { sb, run } = setup({ '/workspace/f': text });
    const obs = await run({ command: 'insert', path: '/workspace/f', insert_line: 1, new_str: '' });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/f'), 'one\n\ntwo\nthree\n');
  });

  t.test('at the end', async (t) => {
    const { sb, run } = setup({ '/workspace/f': text });
    const obs = await run({ command: 'insert', path: '/workspace/f', insert_line: 3, new_str: 'four' });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/f'), 'one\ntwo\nthree\nfour\n');
  });

  t.test('a file without a final newline stays without one', async (t) => {
    const { sb, run } = setup({ '/workspace/f': 'one\ntwo' });
    await run({ command: 'insert', path: '/workspace/f', insert_line: 2, new_str: 'three' });
    t.equal(sb.content('/workspace/f'), 'one\ntwo\nthree');
    await run({ command: 'insert', path: '/workspace/f', insert_line: 1, new_str: 'one and a half' });
    t.equal(sb.content('/workspace/f'), 'one\none and a half\ntwo\nthree');
  });

  t.test('CRLF lines are kept as they are', async (t) => {
    const { sb, run } = setup({ '/workspace/f': 'a\r\nb\r\n' });
    await run({ command: 'insert', path: '/workspace/f', insert_line: 1, new_str: 'x' });
    t.equal(sb.content('/workspace/f'), 'a\r\nx\nb\r\n');
  });

  t.test('into an empty file', async (t) => {
    const { sb, run } = setup({ '/workspace/f': '' });
    const obs = await run({ command: 'insert', path: '/workspace/f', insert_line: 0, new_str: 'first' });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/f'), 'first\n');
    t.equal((await run({ command: 'insert', path: '/workspace/f', insert_line: 2, new_str: 'x' })).invalid, true);
  });

  t.test('a line past the end is invalid, names the allowed range and changes nothing', async (t) => {
    const { sb, run, writes } = setup({ '/workspace/f': text });
    const obs = await run({ command: 'insert', path: '/workspace/f', insert_line: 4, new_str: 'x' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /\b0 to 3\b/);
    t.equal(sb.content('/workspace/f'), text);
    t.equal(writes(), 0);
  });

  t.test('insert_line and new_str are required', async (t) => {
    const { sb, run, writes } = setup({ '/workspace/f': text });
    const a = await run({ command: 'insert', path: '/workspace/f', new_str: 'x' });
    t.equal(a.invalid, true);
    t.match(a.text, /insert_line/);
    const b = await run({ command: 'insert', path: '/workspace/f', insert_line: 1 });
    t.equal(b.invalid, true);
    t.match(b.text, /new_str/);
    t.equal(sb.content('/workspace/f'), text);
    t.equal(writes(), 0);
  });

  t.test('a missing file and a binary file are invalid', async (t) => {
    const { sb, run, writes } = setup({ '/workspace/bin': BINARY });
    t.equal((await run({ command: 'insert', path: '/workspace/none', insert_line: 0, new_str: 'x' })).invalid, true);
    const obs = await run({ command: 'insert', path: '/workspace/bin', insert_line: 0, new_str: 'x' });
    t.equal(obs.invalid, true);
    t.match(obs.text, /binary/);
    t.equal(sb.content('/workspace/bin'), BINARY);
    t.equal(writes(), 0);
  });
});

t.test('undo_edit', async (t) => {
  t.test('reverts a str_replace to the exact previous bytes', async (t) => {
    const text = 'a\r\nb ✓\nc';
    const { sb, run } = setup({ '/workspace/f': text });
    await run({ command: 'str_replace', path: '/workspace/f', old_str: 'b ✓', new_str: 'B' });
    const obs = await run({ command: 'undo_edit', path: '/workspace/f' });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/f'), text);
    t.ok(body(obs).includes(row(2, 'b ✓')), 'shows the restored file');
  });

  t.test('reverts an insert', async (t) => {
    const { sb, run } = setup({ '/workspace/f': 'one\ntwo' });
    await run({ command: 'insert', path: '/workspace/f', insert_line: 1, new_str: 'x' });
    t.notOk((await run({ command: 'undo_edit', path: '/workspace/f' })).invalid);
    t.equal(sb.content('/workspace/f'), 'one\ntwo');
  });

  t.test('after create removes the file', async (t) => {
    const { sb, run } = setup();
    await run({ command: 'create', path: '/workspace/new.py', file_text: 'x\n' });
    const obs = await run({ command: 'undo_edit', path: '/workspace/new.py' });
    t.notOk(obs.invalid);
    t.equal(sb.content('/workspace/new.py'), undefined);
    t.equal((await run({ command: 'view', path: '/workspace/new.py' })).invalid, true);
  });

  t.test('an undo the sandbox refuses keeps its step for a retry', async (t) => {
    let refuse = true;
    const { sb, run } = setup({ '/workspace/f': 'a\n' }, {
      fault: (op) => (op === 'write' && refuse && sb.content('/workspace/f') === 'b\n' ? new SandboxFileError('ENOSPC', 'No space left on device') : undefined),
    });
    await run({ command: 'str_replace', path: '/workspace/f', old_str: 'a', new_str: 'b' });
    const refused = await run({ command: 'undo_edit', path: '/workspace/f' });
    t.equal(refused.invalid, true);
    t.match(refused.text, /ENOSPC/);
    refuse = false;
    t.notOk((await run({ command: 'undo_edit', path: '/workspace/f' })).invalid);
    t.equal(sb.content('/workspace/f'), 'a\n');
  });

  t.test('repeated undos walk back one edit at a time, then there is no history', async (t) => {
    const { sb, run } = setup();
    const path = '/workspace/f.py';
    await run({ command: 'create', path, file_text: 'a\n' });
    await run({ command: 'str_replace', path, old_str: 'a', new_str: 'b' });
    await run({ command: 'insert', path, insert_line: 1, new_str: 'c' });
    t.equal(sb.content(path), 'b\nc\n');
    t.notOk((await run({ command: 'undo_edit', path })).invalid);
    t.equal(sb.content(path), 'b\n');
    t.notOk((await run({ command: 'undo_edit', path })).invalid);
    t.equal(sb.content(path), 'a\n');
    t.notOk((await run({ command: 'undo_edit', path })).invalid);
    t.equal(sb.content(path), undefined);
    const none = await run({ command: 'undo_edit', path });
    t.equal(none.invalid, true);
    t.match(none.text, /no edit history/);
  });

  t.test('with no history is invalid and changes nothing', async (t) => {
    const { sb, run, writes } = setup({ '/workspace/f': 'keep\n' });
    const obs = await run({ command: 'undo_edit', path: '/workspace/f' });
    t.equal(obs.invalid, true);
    t.equal(sb.content('/workspace/f'), 'keep\n');
    t.equal(writes(), 0);
  });

  t.test('failed edits leave no history', async (t) => {
    const { sb, run } = setup({ '/workspace/f': 'x\nx\n' });
    await run({ command: 'str_replace', path: '/workspace/f', old_str: 'x', new_str: 'y' });
    await run({ command: 'insert', path: '/workspace/f', insert_line: 9, new_str: 'y' });
    t.equal((await run({ command: 'undo_edit', path: '/workspace/f' })).invalid, true);
    t.equal(sb.content('/workspace/f'), 'x\nx\n');
  });

  t.test('history is per file', async (t) => {
    const { sb, run } = setup({ '/workspace/a': 'a\n', '/workspace/b': 'b\n' });
    await run({ command: 'str_replace', path: '/workspace/a', old_str: 'a', new_str: 'A' });
    await run({ command: 'str_replace', path: '/workspace/b', old_str: 'b', new_str: 'B' });
    await run({ command: 'undo_edit', path: '/workspace/a' });
    t.equal(sb.content('/workspace/a'), 'a\n');
    t.equal(sb.content('/workspace/b'), 'B\n');
  });
});
