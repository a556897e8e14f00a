import { readFileSync } from 'node:fs';
import t from 'tap';
import { ERRORS, HgymError, hgymError, isHgymError } from '../../env/errors.js';

t.test('every registered code is documented in docs/errors.md with its status, and nothing else is', async (t) => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| `(HGYM_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
  const registry = Object.entries(ERRORS).map(([code, spec]) => [code, spec.status]);
  t.same(rows.sort(), registry.sort());
});

t.test('a coded error carries code, status and the formatted message', async (t) => {
  const err = hgymError('HGYM_ERR_SANDBOX_LOST', 'the container exited');
  t.type(err, HgymError);
  t.equal(err.code, 'HGYM_ERR_SANDBOX_LOST');
  t.equal(err.statusCode, 502);
  t.match(err.message, /the container exited/);
  t.ok(isHgymError(err, 'HGYM_ERR_SANDBOX_LOST'));
  t.notOk(isHgymError(err, 'HGYM_ERR_CAPACITY'));
  t.notOk(isHgymError(new Error('plain')));
});
