import { createHash } from 'node:crypto';
import t from 'tap';
import { collectChanges } from '../../../env/tasks/changes.js';
import { codeChanges } from '../../../env/tasks/grade.js';
import { MemorySandbox } from '../../helpers/memory-sandbox.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const ROOT = '/workspace/lib';
const GIVEN = 'def f(x):\n    return x\n';

t.test('grading reads only changed Python files it can parse: a larger one stays unread and is a change', async (t) => {
  const names = ['a.py', 'b.py', 'c.py', 'big.py', 'notes.cfg'];
  const sandbox = new MemorySandbox();
  const baseline = new Map(names.map((n) => [n, sha(GIVEN)]));
  // Three files of 3.5 MB of comments (under the per-file bound), one of 5 MB (over it), a non-Python file.
  const comment = (mb: number) => `${GIVEN}${`# ${'x'.repeat(1000)}\n`.repeat(Math.round((mb * 1e6) / 1003))}`;
  for (const n of ['a.py', 'b.py', 'c.py']) sandbox.put(`${ROOT}/${n}`, comment(3.5));
  sandbox.put(`${ROOT}/big.py`, comment(5));
  sandbox.put(`${ROOT}/notes.cfg`, 'changed\n');
  const changes = await collectChanges(sandbox, ROOT, { files: baseline, read: async () => GIVEN });
  const reads = sandbox.calls.filter((c) => c.op === 'read').map((c) => ('path' in c ? c.path : ''));
  t.same(reads.sort(), ['a.py', 'b.py', 'c.py'].map((n) => `${ROOT}/${n}`), 'only Python files within the bounds are read');
  const big = changes.modified.find((m) => m.path === 'big.py')!;
  t.equal(big.after, null);
  t.match(big.unread, /larger than \d+ bytes/);
  t.match(codeChanges(changes).find((c) => c.file === 'big.py')?.reason, /larger than/);
  t.match(codeChanges(changes).find((c) => c.file === 'notes.cfg')?.reason, /non-Python/);
});
