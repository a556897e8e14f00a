/**
 * The sealed report's verification and the func_gen rules read from a run: a report passes
 * only line by line under the key, and only a run that ended normally can score.
 */
import { createHmac } from 'node:crypto';
import t from 'tap';
import { verifyReport, type SealedRun } from '../../../env/tasks/sealed.js';
import { gradeRun } from '../../../env/tasks/func-gen.js';

const key = Buffer.from('k'.repeat(64));
const line = (seq: number, body: object, k = key) => {
  const json = JSON.stringify(body);
  return `${seq} ${createHmac('sha256', k).update(`${seq}\n${json}`).digest('hex')} ${json}`;
};

t.test('a report verifies only when every line carries its sequence and the key\'s MAC', async (t) => {
  const good = [line(0, { kind: 'test', id: 'a', outcome: 'passed' }), line(1, { kind: 'end', exit: 0 })].join('\n') + '\n';
  t.same(verifyReport(good, key), { records: [{ kind: 'test', id: 'a', outcome: 'passed' }, { kind: 'end', exit: 0 }] });
  t.same(verifyReport('', key), { records: [] });
  t.same(verifyReport(`${line(0, { kind: 'end', exit: 0 }, Buffer.from('x'.repeat(64)))}\n`, key), { badLine: 1 }, 'another key');
  t.same(verifyReport(`${line(1, { kind: 'end', exit: 0 })}\n`, key), { badLine: 1 }, 'a sequence that does not start at 0');
  t.same(verifyReport(`${line(0, { kind: 'test' })}\n${line(0, { kind: 'end', exit: 0 })}\n`, key), { badLine: 2 }, 'a replayed sequence number');
  const tampered = line(0, { kind: 'test', id: 'a', outcome: 'failed' }).replace('failed', 'passed');
  t.same(verifyReport(`${tampered}\n`, key), { badLine: 1 }, 'a record changed after it was written');
  t.same(verifyReport(`${good}0 ${'0'.repeat(64)} {"kind":"end","exit":0}\n`, key), { badLine: 3 }, 'a forged line appended');
});

const ended = (tests: Extract<SealedRun, { kind: 'ended' }>['tests'], exit = 0, violations: string[] = []): SealedRun => ({ kind: 'ended', tests, violations, exit, ms: 5 });
const passed = (id: string) => ({ id, outcome: 'passed' as const, ms: 1 });

t.test('gradeRun: 1 only for a run that ended normally with every test passed', async (t) => {
  const tests = ['t::a', 't::b'];
  const rule = (run: SealedRun) => {
    const g = gradeRun(run, tests, 60);
    return [g.reward, g.info.rule];
  };
  t.same(rule(ended([passed('t::a'), passed('t::b')])), [1, 'tests_pass']);
  t.same(rule(ended([passed('t::a'), { id: 't::b', outcome: 'failed', ms: 1 }], 1)), [0, 'tests_fail']);
  t.same(rule(ended([passed('t::a')])), [0, 'tests_fail'], 'a test without a record');
  t.same(rule(ended([passed('t::a'), { id: 't::b', outcome: 'skipped', ms: 1 }])), [0, 'tests_fail'], 'a skip is not a pass');
  t.same(rule(ended([passed('t::a'), passed('t::b'), { id: 't::b', outcome: 'failed', ms: 1 }])), [0, 'tests_fail'], 'conflicting records');
  t.same(rule(ended([passed('t::a'), passed('t::b')], 2)), [0, 'interrupted'], 'KeyboardInterrupt: exit 2');
  t.same(rule(ended([passed('t::a'), passed('t::b')], 5)), [0, 'test_run_failed']);
  t.same(rule(ended([passed('t::a'), passed('t::b')], 0, ['gc.get_objects'])), [0, 'harness_access']);
  t.same(rule({ kind: 'crashed', tests: [passed('t::a'), passed('t::b')], violations: [], detail: 'exit 0', ms: 1 }), [0, 'test_run_crashed']);
  t.same(rule({ kind: 'timeout', tests: [passed('t::a'), passed('t::b')], violations: [], ms: 1 }), [0, 'timeout']);
  t.same(rule({ kind: 'forged', line: 3, ms: 1 }), [0, 'report_forged']);
  const g = gradeRun(ended([passed('t::a'), { id: 't::b', outcome: 'failed', ms: 1, error: { type: 'AssertionError', message: 'assert 1 == 2\nmore', frames: [] } }], 1), tests, 60);
  t.equal(g.info.pass_fraction, 0.5);
  t.same(g.info.failing, [{ id: 't::b', outcome: 'failed', error: 'assert 1 == 2' }]);
  t.same(g.info.test_ids, tests, 'the tests run are named');
  t.same(gradeRun({ kind: 'forged', line: 3, ms: 1 }, tests, 60).info.test_ids, tests, 'also when the run earns nothing');
  const many = Array.from({ length: 80 }, (_, i) => `t::${i}`);
  const named = gradeRun({ kind: 'timeout', tests: [], violations: [], ms: 1 }, many, 60).info;
  t.same([named.tests, (named.test_ids as string[]).length], [80, 50], 'a long list is cut to its first 50, the count kept');
});
