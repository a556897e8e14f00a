/** JSON Lines readers: the strict one for corpora, the streaming one that skips damaged lines. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { readJsonl, readJsonlRecords, type DamagedLine } from '../../env/jsonl.js';

const isObject = (v: unknown): v is { n: number } => typeof v === 'object' && v !== null && typeof (v as { n?: unknown }).n === 'number';

async function records(file: string): Promise<{ read: number[]; damaged: number[] }> {
  const damaged: DamagedLine[] = [];
  const read: number[] = [];
  for await (const r of readJsonlRecords(file, isObject, (d) => damaged.push(d))) read.push(r.n);
  return { read, damaged: damaged.map((d) => d.line) };
}

t.test('the strict reader parses every line and throws on a bad one', async (t) => {
  const dir = t.testdir({ 'ok.jsonl': '{"n":1}\n\n{"n":2}\n', 'bad.jsonl': '{"n":1}\n{"n":\n' });
  t.same(await readJsonl(join(dir, 'ok.jsonl')), [{ n: 1 }, { n: 2 }]);
  await t.rejects(readJsonl(join(dir, 'bad.jsonl')), SyntaxError);
});

t.test('damaged lines are skipped and numbered as line tools count them', async (t) => {
  const file = join(t.testdir({}), 'log.jsonl');
  // Line 3 is blank, line 4 is JSON of the wrong shape, line 5 holds a stray CR, line 6 is torn.
  writeFileSync(file, '{"n":1}\n{"n":2}\n\n[1]\n{"n":\r5}x\n{"n":6\n{"n":7}');
  t.same(await records(file), { read: [1, 2, 7], damaged: [4, 5, 6] }, 'a last line without its newline still counts');
});

t.test('lines longer than a read chunk are read whole', async (t) => {
  const file = join(t.testdir({}), 'log.jsonl');
  const pad = 'x'.repeat(200 * 1024);
  writeFileSync(file, `{"n":1,"pad":"${pad}"}\n{"n":2,"pad":"${pad}\n{"n":3,"pad":"${pad}"}\n`);
  t.same(await records(file), { read: [1, 3], damaged: [2] });
});
