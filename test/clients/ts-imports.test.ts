/**
 * The TypeScript client stands on the wire contract alone: every module under clients/ts, and
 * everything it reaches through relative imports (type-only ones included), lies under
 * clients/ts or schemas/. Imports are read with TypeScript's own pre-processor.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import t from 'tap';
import ts from 'typescript';

const ROOT = resolve(import.meta.dirname, '..', '..');
const ALLOWED = ['clients/ts/', 'schemas/'];

/** The files a module imports by relative path (`.js` specifiers name their `.ts` sources). */
function relativeImports(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map((f) => f.fileName)
    .filter((name) => name.startsWith('.'))
    .map((name) => resolve(dirname(file), name.replace(/\.js$/, '.ts')));
}

/** Every module reached from `entries`, with the module that first imported it. */
function reach(entries: string[]): Map<string, string> {
  const seen = new Map(entries.map((e) => [e, '(entry)']));
  const queue = [...entries];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const next of relativeImports(file)) {
      if (seen.has(next)) continue;
      seen.set(next, file);
      queue.push(next);
    }
  }
  return seen;
}

t.test('the import reader sees value, type-only and re-export imports (the check can fail)', async (t) => {
  const dir = t.testdir({
    'a.ts': "import { x } from './b.js';\nimport type { Y } from '../env/errors.js';\nexport { z } from './c.js';\nimport 'node:fs';\n",
  });
  const found = relativeImports(join(dir, 'a.ts')).map((f) => relative(dir, f));
  t.same(found.sort(), ['../env/errors.ts', 'b.ts', 'c.ts'].sort());
});

t.test('no module of clients/ts reaches outside clients/ts and schemas/', async (t) => {
  const entries = readdirSync(join(ROOT, 'clients', 'ts'))
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(ROOT, 'clients', 'ts', name));
  t.ok(entries.length >= 5, `${entries.length} modules`);
  const reached = reach(entries);
  t.ok([...reached.keys()].some((f) => relative(ROOT, f).startsWith('schemas/')), 'it does use the schemas');
  for (const [file, from] of reached) {
    const at = relative(ROOT, file);
    t.ok(ALLOWED.some((prefix) => at.startsWith(prefix)), `${at} (imported by ${relative(ROOT, from)})`);
  }
});
