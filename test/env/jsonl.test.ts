/** JSON Lines readers: the strict one for corpora, the streaming one that skips damaged lines, and lines read last first. */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { readJsonl, readJsonlRecords, readLinesBackward, type DamagedLine } from '../../env/jsonl.js';

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

/** Every line of a file, last first, as [offset, text], read in chunks of `chunkSize`. */
async function backward(file: string, end?: number, chunkSize?: number): Promise<[number, string][]> {
  const out: [number, string][] = [];
  for await (const { offset, bytes } of readLinesBackward(file, end, chunkSize)) out.push([offset, bytes.toString('utf8')]);
  return out;
}

/** A log with blank lines (one only a CR), a line of `padding` bytes, multi-byte characters and no final newline; its lines as [offset, text], last first. */
function awkwardLog(file: string, padding: number): [number, string][] {
  const text = `{"n":1}\n\n{"n":2,"s":"\u00e9\u6f22"}\n\r\n{"n":3,"pad":"${'y'.repeat(padding)}"}\n{"n":4}`;
  writeFileSync(file, text);
  const lines: [number, string][] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    if (line.trim() !== '') lines.push([offset, line]);
    offset += Buffer.byteLength(line) + 1;
  }
  return lines.reverse();
}

t.test('lines read last first: the same lines and offsets as a forward split, whatever the chunk size', async (t) => {
  const file = join(t.testdir({}), 'log.jsonl');
  for (const [padding, chunks] of [
    [100, [1, 2, 7]],
    [70 * 1024, [4096, 64 * 1024, 1 << 20]],
  ] as const) {
    const expected = awkwardLog(file, padding);
    t.equal(expected.length, 4);
    for (const chunk of chunks) t.same(await backward(file, undefined, chunk), expected, `a line of ${padding} bytes, chunks of ${chunk} bytes`);
    // From a line's start (a page's end): only the lines before it.
    t.same(await backward(file, expected[2]![0], 3), expected.slice(3), 'from the start of line 3: line 1 only');
    t.same(await backward(file, expected[0]![0]), expected.slice(1), 'from the last line: all before it');
    t.same(await backward(file, 0), [], 'from offset 0: nothing');
  }
});

t.test('lines read last first stop early, and never see what was appended after the read began', async (t) => {
  const file = join(t.testdir({}), 'log.jsonl');
  writeFileSync(file, '{"n":1}\n{"n":2}\n{"n":3}\n');
  const lines = readLinesBackward(file, undefined, 4);
  const first = await lines.next();
  t.equal(first.value?.bytes.toString(), '{"n":3}');
  appendFileSync(file, '{"n":4}\n');
  const rest: string[] = [];
  for await (const { bytes } of lines) rest.push(bytes.toString());
  t.same(rest, ['{"n":2}', '{"n":1}'], 'the record appended meanwhile is not read');
  const early = readLinesBackward(file);
  t.equal((await early.next()).value?.bytes.toString(), '{"n":4}');
  await early.return(undefined);
  t.same((await early.next()).done, true, 'a reader left early is closed');
});
