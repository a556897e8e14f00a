/**
 * The executed families on a small package with tests, in real sandboxes: generation from
 * the traced test run, the cache, and func_gen grading against honest, partial, wrong and
 * cheating agents.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { snapshotOf } from '../../env/corpus/snapshot.js';
import { Episode } from '../../env/episode.js';
import { generateForRepo } from '../../env/tasks/generate.js';
import { analyzeRepo } from '../../env/analysis/repo.js';
import { screenCandidates } from '../../env/tasks/degenerate.js';
import { testsReaching, traceSuite } from '../../env/tasks/executed.js';
import { candidateOf } from '../../env/tasks/func-gen.js';
import { importRepost } from '../../env/corpus/repost.js';
import { DockerSandboxPool } from '../../docker/pool.js';
import type { FuncGenInstance, IssueLocalizeInstance } from '../../schemas/tasks.js';

const CALC = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'calc');
const pool = await DockerSandboxPool.start({ warm: 2, max: 6 });
t.teardown(() => pool.close());
const dir = t.testdir({ workspaces: {}, runs: {} });
const execution = { pool, cacheDir: join(dir, 'workspaces'), runsDir: join(dir, 'runs') };
const snapshot = await snapshotOf(CALC);
const started = performance.now();
const { instances, summary } = await generateForRepo({ root: CALC, name: 'calc' }, { tasks: ['issue_localize', 'func_gen'], seed: 1, execution });
const firstMs = performance.now() - started;
const funcGen = instances.filter((i): i is FuncGenInstance => i.task === 'func_gen');
const issues = instances.filter((i): i is IssueLocalizeInstance => i.task === 'issue_localize');
const byName = (qualname: string) => funcGen.find((i) => i.gold.qualname === qualname)!;

const bash = (command: string) => ({ tool: 'execute_bash', arguments: { command } });

async function episodeOf(t: Test, instance: FuncGenInstance | IssueLocalizeInstance): Promise<Episode> {
  const episode = await Episode.reset({ instance, snapshot, pool, cacheDir: execution.cacheDir });
  t.teardown(() => episode.close());
  return episode;
}

/** Replaces the placeholder of `instance` with `body` (indented lines) through the editor. */
async function implement(episode: Episode, instance: FuncGenInstance, body: string): Promise<void> {
  const path = `/workspace/calc/${instance.gold.file}`;
  const view = await episode.step({ tool: 'str_replace_editor', arguments: { command: 'view', path, view_range: [instance.edits[0]!.start - 1, instance.edits[0]!.start] } });
  const [before, placeholder] = view.observation.text
    .split('\n')
    .filter((l) => /^\s*\d+\t/.test(l))
    .map((l) => l.replace(/^\s*\d+\t/, ''));
  const r = await episode.step({ tool: 'str_replace_editor', arguments: { command: 'str_replace', path, old_str: `${before}\n${placeholder}\n`, new_str: `${before}\n${body}` } });
  if (r.info.grade !== undefined || /Error|did not appear/.test(r.observation.text.split('\n')[0]!)) throw new Error(`edit refused: ${r.observation.text}`);
}

async function finish(episode: Episode) {
  const done = await episode.step({ tool: 'finish', arguments: {} });
  return { reward: done.reward, info: done.info.grade as Record<string, unknown> };
}

t.test('generation: func_gen for each documented function the tests reach, issues from mutations that fail tests', async (t) => {
  t.same(funcGen.map((i) => i.gold.qualname).sort(), ['Window.chunks', 'add_all', 'clamp', 'mean', 'slug'], JSON.stringify(summary));
  for (const i of funcGen) {
    t.equal(i.edits[0]!.text.trim(), 'raise NotImplementedError', `${i.gold.qualname}: the placeholder`);
    t.ok(i.gold.tests.length > 0 && i.gold.tests.every((id) => id.startsWith('tests/test_')), `${i.gold.qualname}: tests ${i.gold.tests.join(', ')}`);
  }
  t.same([...byName('clamp').gold.tests].sort(), ['tests/test_ops.py::test_clamp_above', 'tests/test_ops.py::test_clamp_below', 'tests/test_ops.py::test_clamp_inside']);
  t.ok(issues.length >= 3, `${issues.length} injected issues`);
  for (const i of issues) {
    t.equal(i.source, 'injected');
    t.match(i.issue, /tests\/test_\w+\.py::test_\w+/, 'the issue names a failing test');
    const fn = i.gold.functions[0]!;
    t.equal(i.gold.files[0], fn.file);
    // No traceback frame points into the mutated function.
    const def = { start: i.gold.lines[0]!.start, file: fn.file };
    for (const m of i.issue.matchAll(/File "([^"]+)", line (\d+), in (\S+)/g)) t.not(m[3], fn.qualname.split('.').pop(), `${i.instance_id}: frame ${m[0]} is not in ${fn.qualname} (mutated at ${def.file}:${def.start})`);
  }
});

t.test('generation leaves out functions whose tests a degenerate body passes', async (t) => {
  // initials is tested only by `== "HBW"` (an object equal to everything passes), check_positive
  // only by `is None` (`return None` passes); clamp keeps one test every body fails.
  const names = funcGen.map((i) => i.gold.qualname);
  t.notOk(names.includes('initials') || names.includes('check_positive'), names.join(', '));
  const analysis = await analyzeRepo(CALC);
  const ctx = { name: 'calc', ref: { name: 'calc', snapshot: snapshot.id, license: 'unknown' }, analysis, source: (file: string) => readFile(join(CALC, file), 'utf8') };
  const suite = await traceSuite(ctx, snapshot, execution);
  const candidates = await Promise.all(
    ([['calc/text.py', 'initials'], ['calc/ops.py', 'check_positive'], ['calc/ops.py', 'clamp']] as const).map(async ([file, qualname]) => {
      const def = analysis.modules.find((m) => m.file === file)!.definitions.find((d) => d.qualname === qualname)!;
      return { ...candidateOf(def, await ctx.source(file))!, tests: testsReaching(suite, def) };
    }),
  );
  let ran = 0;
  const [initials, check, clamp] = await screenCandidates(ctx, snapshot, candidates, suite, { ...execution, onProgress: () => ran++ });
  t.equal(ran, 0, 'the screening trials ran at generation and come from the cache');
  t.same(initials!.passed.anything, ['tests/test_text.py::test_initials']);
  t.same(initials!.strong, []);
  t.same(check!.passed.none, ['tests/test_ops.py::test_check_positive']);
  t.same(check!.passed.anything, [], 'an object is not None');
  t.notOk(initials!.keep || check!.keep);
  t.same(clamp!.strong, ['tests/test_ops.py::test_clamp_above'], JSON.stringify(clamp!.passed));
  t.same([...clamp!.passed.anything!].sort(), ['tests/test_ops.py::test_clamp_below', 'tests/test_ops.py::test_clamp_inside']);
  t.same(clamp!.passed.placeholder, []);
  t.ok(clamp!.keep);
  t.same(byName('clamp').gold.tests.length, 3, 'a kept instance keeps all its tests');
});

t.test('generation again comes from the cache: same instances, no test run', async (t) => {
  t.ok(existsSync(join(execution.runsDir, snapshot.id, 'trace.json')) && existsSync(join(execution.runsDir, snapshot.id, 'trials.json')));
  let ran = 0;
  const again = await generateForRepo({ root: CALC, name: 'calc' }, { tasks: ['issue_localize', 'func_gen'], seed: 1, execution: { ...execution, onProgress: () => ran++ } });
  t.same(again.instances, instances);
  t.equal(ran, 0, `no progress reported: nothing ran (first generation took ${Math.round(firstMs)} ms)`);
});

t.test('func_gen: the original body restored through the editor scores 1', async (t) => {
  for (const qualname of ['clamp', 'Window.chunks']) {
    const instance = byName(qualname);
    const episode = await episodeOf(t, instance);
    await implement(episode, instance, instance.gold.body);
    const { reward, info } = await finish(episode);
    t.equal(reward, 1, `${qualname}: ${JSON.stringify(info)}`);
    t.equal(info.pass_fraction, 1);
  }
});

t.test('func_gen: a no-op scores 0', async (t) => {
  const episode = await episodeOf(t, byName('mean'));
  const { reward, info } = await finish(episode);
  t.equal(reward, 0);
  t.equal(info.rule, 'tests_fail');
  t.equal(info.pass_fraction, 0);
});

t.test('func_gen: a partial answer scores 0 with its pass fraction; a wrong one 0', async (t) => {
  const partial = await episodeOf(t, byName('clamp'));
  await implement(partial, byName('clamp'), '    return value\n');
  const p = await finish(partial);
  t.equal(p.reward, 0);
  t.equal(p.info.pass_fraction, 0.333, JSON.stringify(p.info));
  t.equal(p.info.passed, 1);

  const wrong = await episodeOf(t, byName('slug'));
  await implement(wrong, byName('slug'), '    return text\n');
  const w = await finish(wrong);
  t.equal(w.reward, 0);
  t.equal(w.info.pass_fraction, 0);
});

t.test('func_gen: editing or deleting the tests, a conftest, other modules and background processes do not help', async (t) => {
  const instance = byName('clamp');
  const episode = await episodeOf(t, instance);
  await implement(episode, instance, '    return value\n');
  const cheat = [
    // The tests made trivial, a conftest that passes every test, the package's import changed,
    // a pytest.ini in the parent and a process that keeps rewriting the tests.
    `cd /workspace/calc && printf 'def test_clamp_below():\\n    pass\\ndef test_clamp_above():\\n    pass\\ndef test_clamp_inside():\\n    pass\\n' > tests/test_ops.py`,
    `printf 'import pytest\\n@pytest.hookimpl(hookwrapper=True)\\ndef pytest_runtest_makereport(item, call):\\n    o = yield\\n    o.get_result().outcome = "passed"\\n' > conftest.py`,
    `cp conftest.py /tmp/conftest.py && printf '[pytest]\\naddopts = -p no:python\\n' > /workspace/pytest.ini`,
    `printf 'from .text import slug\\ndef clamp(v, lo, hi):\\n    return max(lo, min(v, hi))\\n' > calc/__init__.py`,
    `git add -A && git -c user.email=a@b -c user.name=a commit -qm tests`,
    `(setsid bash -c 'while true; do for d in /tmp/hgym-grade-*/calc/tests; do echo "def test_ok(): pass" > $d/test_ops.py 2>/dev/null; done; sleep 0.01; done' &>/dev/null &)`,
  ].join(' && ');
  const r = await episode.step(bash(cheat));
  t.match(r.observation.text, /exit code 0|\[exit 0\]|^$|0\s*$/m, r.observation.text);
  const { reward, info } = await finish(episode);
  t.equal(reward, 0, JSON.stringify(info));
  t.equal(info.passed, 1, 'the restored tests ran against the agent\'s clamp');

  const deleter = await episodeOf(t, instance);
  await deleter.step(bash('rm -rf /workspace/calc/tests /workspace/calc/calc/ops.py.orig'));
  t.equal((await finish(deleter)).reward, 0, 'deleting the tests does not help');
});

t.test('func_gen: a skipped test is not a pass; a hang is a timeout', async (t) => {
  const instance = byName('mean');
  const harness = await episodeOf(t, instance);
  await implement(harness, instance, '    import pytest\n    pytest.skip("no")\n');
  const h = await finish(harness);
  t.equal(h.reward, 0);
  t.equal(h.info.rule, 'tests_fail');
  t.match(h.info.failing, [{ outcome: 'skipped' }]);

  const hang = await episodeOf(t, { ...instance, timeout_s: 3 });
  await implement(hang, instance, '    while True:\n        pass\n');
  const started = Date.now();
  const r = await finish(hang);
  t.equal(r.reward, 0);
  t.equal(r.info.rule, 'timeout');
  t.ok(Date.now() - started < 20_000, 'graded soon after the limit');
});

t.test('issue_localize from an injected bug: the workspace holds the bug, gold comments score 1, a no-op 0', async (t) => {
  const instance = issues[0]!;
  const range = instance.gold.lines[0]!;
  const noop = await episodeOf(t, instance);
  const view = await noop.step({ tool: 'str_replace_editor', arguments: { command: 'view', path: `/workspace/calc/${range.file}`, view_range: [range.start, range.end] } });
  t.match(view.observation.text, instance.edits[0]!.text.trim().split('\n')[0]!.trim(), 'the mutated line is in the workspace');
  t.equal((await finish(noop)).reward, 0);

  const gold = await episodeOf(t, instance);
  const line = (await gold.step(bash(`sed -n ${range.start}p /workspace/calc/${range.file}`))).observation.text.split('\n')[0]!;
  const indent = /^\s*/.exec(line)![0];
  await gold.step({ tool: 'str_replace_editor', arguments: { command: 'insert', path: `/workspace/calc/${range.file}`, insert_line: range.start - 1, new_str: `${indent}# the bug is here` } });
  const { reward, info } = await finish(gold);
  t.equal(reward, 1, JSON.stringify(info));
});

t.test('func_gen from a RepoST record: the evaluation script compares the implementation with the original', async (t) => {
  const corpusDir = t.testdir({ repos: {} });
  const evalScript = [
    'def slug(text, sep="-"):',
    '    words = [w for w in text.lower().split() if w]',
    '    return sep.join(words)',
    '',
    'def test_slug():',
    '    for text, sep in [("Hello  World", "-"), ("a b c", "_"), ("", "-"), ("X", "+")]:',
    '        assert slug(text, sep) == slug_new_implementation(text, sep), (text, sep)',
    '',
    'if __name__ == "__main__":',
    '    test_slug()',
    '',
  ].join('\n');
  const records = [
    { repo: 'calc', func_path: 'calc/text.py', func_name: 'slug', eval_script: evalScript, instance_id: 'calc-slug' },
    { repo: 'calc', func_path: 'calc/text.py', func_name: 'nope', eval_script: evalScript },
    { repo: 'other', func_path: 'x.py', func_name: 'f', eval_script: evalScript },
  ];
  const { instances: imported, skipped } = await importRepost(records, new Map([['calc', CALC]]), corpusDir);
  t.equal(imported.length, 1);
  t.same(skipped.map((s) => s.record), [1, 2]);
  const instance = imported[0]!;
  t.equal(instance.source, 'repost');
  t.equal(instance.instance_id, 'func_gen.repost.calc-slug');
  const repostSnapshot = await snapshotOf(join(corpusDir, 'repos', 'calc'));
  const run = async (body: string | null) => {
    const episode = await Episode.reset({ instance, snapshot: repostSnapshot, pool, cacheDir: join(corpusDir, 'cache') });
    t.teardown(() => episode.close());
    if (body !== null) await implement(episode, instance, body);
    return finish(episode);
  };
  const gold = await run(instance.gold.body);
  t.equal(gold.reward, 1, JSON.stringify(gold.info));
  const noop = await run(null);
  t.equal(noop.reward, 0);
  t.match(noop.info.failing, [{ id: 'eval_script', error: /NotImplementedError/ }]);
  const wrong = await run('    return text.replace(" ", sep)\n');
  t.equal(wrong.reward, 0);
  t.match(wrong.info.failing, [{ error: /AssertionError/ }]);
});

t.test('a repository whose tests need a package the sandbox lacks: no executed instance, and generation says why', async (t) => {
  const body = 'def double(x):\n    """Return twice the given number, as the tests expect."""\n    y = x * 2\n    return y\n';
  const test = 'from pkg.mod import double\n\n\ndef test_double():\n    assert double(2) == 4\n';
  const root = t.testdir({
    // A conftest that does not import: pytest stops before collecting (exit 4), and says why on stderr.
    conftest: { pkg: { '__init__.py': '', 'mod.py': body }, tests: { 'conftest.py': 'import simplejson_missing_here\n', 'test_mod.py': test } },
    // A test module that does not import: a collection error (exit 2).
    module: { pkg: { '__init__.py': '', 'mod.py': body }, tests: { 'test_mod.py': `import freezegun_missing_here\n${test}` } },
  });
  for (const [name, missing] of [['conftest', 'simplejson_missing_here'], ['module', 'freezegun_missing_here']] as const) {
    const { instances, summary } = await generateForRepo({ root: join(root, name), name }, { tasks: ['issue_localize', 'func_gen'], seed: 1, execution });
    t.equal(instances.length, 0, name);
    for (const family of ['issue_localize', 'func_gen'] as const) {
      t.match(summary.notes?.[family], new RegExp(`^the test run exited [1-9]\\d* \\(.*\\): ModuleNotFoundError: No module named '${missing}'`), `${name} ${family}: ${summary.notes?.[family]}`);
    }
  }
});
