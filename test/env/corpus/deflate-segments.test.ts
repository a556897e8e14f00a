/** Pieces compressed apart make one gzip stream that gunzip, zlib and Python read as the whole. */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { crc32, gunzipSync } from 'node:zlib';
import { crc32Combine, gzipOf, segment } from '../../../env/corpus/deflate-segments.js';

t.test('crc32Combine gives the CRC of the concatenation', async (t) => {
  for (const [a, b] of [[0, 0], [1, 0], [0, 1], [3, 5], [1000, 1], [65_537, 70_001], [17, 1_000_003]] as const) {
    const x = randomBytes(a);
    const y = randomBytes(b);
    t.equal(crc32Combine(crc32(x), crc32(y), y.length), crc32(Buffer.concat([x, y])), `${a} + ${b} bytes`);
  }
});

t.test('segments in any order make one gzip stream of their data', async (t) => {
  const parts = [Buffer.from('hello '), randomBytes(200_000), Buffer.alloc(0), Buffer.from('x'.repeat(100_000)), randomBytes(3)];
  const segments = await Promise.all(parts.map((p, i) => segment(p, i === 1)));
  const order = [3, 0, 4, 1, 2];
  const gz = gzipOf(order.map((i) => segments[i]!));
  const whole = Buffer.concat(order.map((i) => parts[i]!));
  t.same(gunzipSync(gz), whole, "Node's gunzip");
  t.same(execFileSync('gzip', ['-dc'], { input: gz }), whole, 'gzip -d checks the CRC and length');
  const python = execFileSync('python3', ['-c', 'import gzip,sys,hashlib; d=gzip.decompress(sys.stdin.buffer.read()); print(len(d), hashlib.sha256(d).hexdigest())'], { input: gz, encoding: 'utf8' });
  t.equal(python.trim(), `${whole.length} ${createHash('sha256').update(whole).digest('hex')}`, "Python's gzip, one member");
  t.same(gunzipSync(gzipOf([])), Buffer.alloc(0), 'no segment: an empty stream');
});
