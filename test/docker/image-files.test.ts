/** The image listing's wire format; listing a real image is in test/docker-real/image-files.test.ts. */
import t from 'tap';
import { parseListing } from '../../docker/image-files.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

t.test('records are sha256, size and path, each ended by a NUL; paths may hold spaces and newlines', async (t) => {
  const output = Buffer.from(`${A} 12 /usr/lib/x.py\0${B} 0 /opt/a b\nc.txt\0`);
  t.same(parseListing(output), [
    { sha256: A, size: 12, path: '/usr/lib/x.py' },
    { sha256: B, size: 0, path: '/opt/a b\nc.txt' },
  ]);
  t.same(parseListing(Buffer.alloc(0)), []);
});

t.test('a damaged record is an error, never a file silently missing from the comparison', async (t) => {
  t.throws(() => parseListing(Buffer.from(`${A} 12 relative/path\0`)));
  t.throws(() => parseListing(Buffer.from(`${A.slice(1)} 12 /x\0`)));
});
