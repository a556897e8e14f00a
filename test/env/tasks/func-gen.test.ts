import { join } from 'node:path';
import t, { type Test } from 'tap';
import { snapshotOf } from '../../../env/corpus/snapshot.js';
import type { SandboxPool } from '../../../env/sandbox.js';
import { hgymError } from '../../../env/errors.js';
import { gradeFuncGen } from '../../../env/tasks/func-gen.js';
import { execResult, MemorySandbox } from '../../helpers/memory-sandbox.js';
import { warmGrading } from '../../../env/tasks/families.js';
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

/** A func_gen instance over a one-file repository holding GIVEN, graded against `unreachable`. */
async function geoInstance(t: Test) {
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
  return { instance, exec: { pool: unreachable, snapshot, cacheDir: join(dir, 'cache') } };
}

const BODY = GIVEN.replace('raise NotImplementedError', 'return w * h');

t.test('a submission Python reads otherwise than its parse gives no definition to test', async (t) => {
  const { instance, exec } = await geoInstance(t);
  const body = BODY;
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

t.test('a submission is cut from the text Python reads: CRLF line ends and a byte-order mark reach the tests', async (t) => {
  const { instance, exec } = await geoInstance(t);
  const body = BODY;
  for (const [name, text] of [
    ['CRLF', body.replace(/\n/g, '\r\n')],
    ['a byte-order mark', `\uFEFF${body}`],
  ]) {
    await t.rejects(gradeFuncGen(instance, text!, exec), /reached the test run/, `${name}: not refused, the tests would run`);
  }
  const renamed = body.replace('def area(w, h)', 'def area(w, h, d=1)');
  t.same((await gradeFuncGen(instance, renamed, exec)).info.rule, 'signature_changed');
});

t.test("func_gen's grading warm-up reads the target's file as given and as the snapshot has it", async (t) => {
  const instance = { instance_id: 'fg-warm', task: 'func_gen', repo: { name: 'geo', snapshot: 's', license: 'MIT' }, instruction: 'x', edits: [], source: 'traced', timeout_s: 10, gold: { file: 'pkg/geo.py', qualname: 'area', line: 1, body: '    return w * h\n', tests: ['t'] } } as FuncGenInstance;
  const given: string[] = [];
  const pristine: string[] = [];
  const baseline = { files: new Map(), read: async (path: string) => (given.push(path), GIVEN) };
  await warmGrading(instance, baseline, 'now', async (path) => (pristine.push(path), BODY));
  t.same([given, pristine], [['pkg/geo.py'], ['pkg/geo.py']]);
});

t.test('a test run at the least CPU weight that runs out of time is run again at the default weight, whose verdict stands', async (t) => {
  const { instance, exec } = await geoInstance(t);
  /** What each grading sandbox saw: whether it was lowered, and how many tests ran in it. */
  const seen: { lowered: boolean; runs: number }[] = [];
  class GraderSandbox extends MemorySandbox {
    private readonly record = { lowered: false, runs: 0 };
    constructor(lowers: boolean, timesOut: boolean) {
      super({ exec: () => (this.record.runs++, execResult({ timedOut: timesOut, exitCode: timesOut ? null : 1 })) });
      this.background = async () => (this.record.lowered = lowers);
      this.put('/tmp/.made', '');
      seen.push(this.record);
    }
    background: () => Promise<boolean>;
    /** The workspace's folder, without its files: no test runs here. */
    override async putArchive(dir?: string): Promise<void> {
      this.put(`${dir}/.unpacked`, '');
    }
  }
  for (const [name, lowers, timesOut, expected] of [
    ['lowered, out of time', true, true, [{ lowered: true, runs: 1 }, { lowered: false, runs: 1 }]],
    ['the engine could not lower it', false, true, [{ lowered: false, runs: 1 }]],
    ['lowered, ended in time', true, false, [{ lowered: true, runs: 1 }]],
  ] as const) {
    seen.length = 0;
    const pool: SandboxPool = { ...unreachable, acquire: async () => new GraderSandbox(lowers, timesOut) };
    const result = await gradeFuncGen(instance, BODY, { ...exec, pool });
    t.equal(result.reward, 0, name);
    t.equal(result.info.rule, timesOut ? 'timeout' : 'test_run_crashed', name);
    t.same(seen, expected, name);
  }
});

t.test('a rerun the pool has no sandbox for keeps the lowered run\'s verdict: a 0, never an error', async (t) => {
  const { instance, exec } = await geoInstance(t);
  let acquires = 0;
  const timesOut = () => {
    const sandbox = new MemorySandbox({ exec: () => execResult({ timedOut: true, exitCode: null }) }).put('/tmp/.made', '');
    return Object.assign(sandbox, { background: async () => true, putArchive: async (dir?: string) => void sandbox.put(`${dir}/.unpacked`, '') });
  };
  const pool: SandboxPool = { ...unreachable, acquire: async () => (++acquires === 1 ? timesOut() : Promise.reject(hgymError('HGYM_ERR_CAPACITY', 'no sandbox free'))) };
  const result = await gradeFuncGen(instance, BODY, { ...exec, pool });
  t.same([result.reward, result.info.rule, acquires], [0, 'timeout', 2]);
});
