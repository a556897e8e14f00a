/**
 * The runner's trials mode (docker/testing/hgym_pytest.py) run by the host's Python on the calc
 * fixture: a group of trials answers as separate trials would, on the tests no earlier trial of
 * the group passed. Skipped where the host has no pytest (the image's runs are covered by
 * test/docker-real/executed.test.ts).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';

const RUNNER = join(import.meta.dirname, '..', '..', '..', 'docker', 'testing', 'hgym_pytest.py');
const CALC = join(import.meta.dirname, '..', '..', 'fixtures', 'tasks', 'calc');
const hasPytest = spawnSync('python3', ['-c', 'import pytest'], { timeout: 30_000 }).status === 0;

const TESTS = ['tests/test_ops.py::test_clamp_below', 'tests/test_ops.py::test_clamp_above', 'tests/test_ops.py::test_clamp_inside'];

/** ops.py with clamp's body replaced by `body`. */
function clampWith(dir: string, body: string) {
  const source = readFileSync(join(dir, 'calc', 'ops.py'), 'utf8');
  const start = source.indexOf('    if value < low:');
  const end = source.indexOf('\n\n\ndef', start);
  const changed = `${source.slice(0, start)}${body}${source.slice(end)}`;
  return { file: 'calc/ops.py', qualname: 'clamp', source: changed, code_line: source.slice(0, source.indexOf('def clamp')).split('\n').length };
}

function runTrials(dir: string, trials: object[]): { tests?: { id: string; outcome: string }[]; skipped?: string }[] {
  writeFileSync(join(dir, 'spec.json'), JSON.stringify({ timeout: 30, trials }));
  execFileSync('python3', ['-I', RUNNER, 'trials', join(dir, 'out.json'), join(dir, 'spec.json')], { cwd: dir, timeout: 120_000 });
  return (JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as { trials: [] }).trials;
}

const outcomes = (r: { tests?: { id: string; outcome: string }[] }) => Object.fromEntries((r.tests ?? []).map((x) => [x.id.split('::')[1], x.outcome]));

t.test('a group answers as separate trials would, on the tests still in question', { skip: hasPytest ? false : 'the host has no pytest' }, async (t) => {
  const dir = t.testdir();
  cpSync(CALC, dir, { recursive: true });
  const bodies = ['    raise NotImplementedError\n', '    return low\n', '    return value\n', '    return high\n', '    return None\n'];
  const separate = runTrials(dir, bodies.map((b) => ({ changes: [clampWith(dir, b)], tests: TESTS })));
  t.same(separate.map(outcomes), [
    { test_clamp_below: 'failed', test_clamp_above: 'failed', test_clamp_inside: 'failed' },
    { test_clamp_below: 'passed', test_clamp_above: 'failed', test_clamp_inside: 'failed' },
    { test_clamp_below: 'failed', test_clamp_above: 'failed', test_clamp_inside: 'passed' },
    { test_clamp_below: 'failed', test_clamp_above: 'failed', test_clamp_inside: 'failed' },
    { test_clamp_below: 'failed', test_clamp_above: 'failed', test_clamp_inside: 'failed' },
  ]);

  const grouped = runTrials(dir, bodies.map((b, i) => ({ changes: [clampWith(dir, b)], tests: TESTS, group: 'clamp', ...(i === 3 ? { at_most: 1 } : {}) })));
  t.same(grouped.map(outcomes), [
    separate.map(outcomes)[0],
    separate.map(outcomes)[1],
    { test_clamp_above: 'failed', test_clamp_inside: 'passed' },
    { test_clamp_above: 'failed' },
    { test_clamp_above: 'failed' },
  ], 'each trial runs what no earlier one passed; at_most keeps the first in test order');

  const stop = runTrials(dir, [
    { changes: [clampWith(dir, '    return value\n')], tests: TESTS.slice(2), group: 'g' },
    { changes: [clampWith(dir, '    return None\n')], tests: TESTS.slice(2), group: 'g' },
    { changes: [clampWith(dir, '    return None\n')], tests: TESTS.slice(2) },
  ]);
  t.same(stop.map(outcomes), [{ test_clamp_inside: 'passed' }, {}, { test_clamp_inside: 'failed' }], 'nothing left: the rest of the group runs nothing; a trial outside it runs');

  const hang = runTrials(dir, [
    { changes: [clampWith(dir, '    while True:\n        pass\n')], tests: TESTS, group: 'h', timeout: 2 },
    { changes: [clampWith(dir, '    return value\n')], tests: TESTS, group: 'h', timeout: 2 },
  ]);
  t.ok(hang[0]!.skipped, 'a trial that hangs gives no result');
  t.same(hang[1], { tests: [], exit: 5 }, 'and the rest of its group runs nothing');
});
