import { join } from 'node:path';
import t from 'tap';
import { snapshotOf } from '../../../env/corpus/snapshot.js';
import type { SandboxPool } from '../../../env/sandbox.js';
import { gradeFuncGen } from '../../../env/tasks/func-gen.js';
import type { FuncGenInstance } from '../../../schemas/tasks.js';

const GIVEN = 'def area(w, h):\n    """Return the area of a w by h rectangle."""\n    raise NotImplementedError\n';

/** A pool that no refused submission may reach: its tests never run. */
const unreachable: SandboxPool = {
  acquire: () => Promise.reject(new Error('a refused submission reached the test run')),
  stats: () => ({ target: 0, warm: 0, starting: 0, leased: 0, created: 0, lost: 0, failed: 0 }),
  close: async () => {},
  destroy: async () => {},
  [Symbol.asyncDispose]: async () => {},
};

t.test('a submission Python reads otherwise than its parse gives no definition to test', async (t) => {
  const dir = t.testdir({ repo: { 'geo.py': GIVEN }, cache: {} });
  const snapshot = await snapshotOf(join(dir, 'repo'));
  const instance: FuncGenInstance = {
    instance_id: 'fg',
    task: 'func_gen',
    repo: { name: 'geo', snapshot: snapshot.id, license: 'MIT' },
    instruction: 'implement area',
    edits: [],
    source: 'traced',
    timeout_s: 10,
    gold: { file: 'geo.py', qualname: 'area', line: 1, body: '    return w * h\n', tests: ['tests/test_geo.py::test_area'] },
  };
  const exec = { pool: unreachable, snapshot, cacheDir: join(dir, 'cache') };
  const body = GIVEN.replace('raise NotImplementedError', 'return w * h');
  for (const [name, text, rule] of [
    ['a UTF-7 coding declaration', `# -*- coding: utf-7 -*-\n${body}# +AAo-import os\n`, 'python_disagrees'],
    ['a tab after spaces', body.replace('    return', '  \treturn'), 'python_disagrees'],
    ['a docstring Python refuses', body.replace('rectangle."""', 'rectangle \\x4."""'), 'python_disagrees'],
    ['a syntax error', body.replace('return w * h', 'return w *'), 'does_not_parse'],
  ]) {
    const result = await gradeFuncGen(instance, text!, exec);
    t.same([result.reward, result.info.rule], [0, rule], name!);
  }
});
