import { fileURLToPath } from 'node:url';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import type { GradeLevel } from '../../../schemas/api.js';
import { analyzeModule } from '../../../env/analysis/module.js';
import type { Definition } from '../../../env/analysis/types.js';
import { gradeFuncLocalize } from '../../../env/tasks/func-localize.js';
import { assertValid, generateForRepo } from '../../../env/tasks/generate.js';
import type { FuncLocalizeInstance, TaskInstance } from '../../../schemas/tasks.js';
import { startEpisode, type Episode } from '../../helpers/episode.js';

const ROOT = fileURLToPath(new URL('../../fixtures/tasks/shapes', import.meta.url));

type Target = FuncLocalizeInstance['gold']['targets'][number];

async function generate(seed: number): Promise<TaskInstance[]> {
  return (await generateForRepo({ root: ROOT, name: 'fixture' }, { seed, maxPerRepo: 50 })).instances;
}

function funcLocalize(instances: readonly TaskInstance[]): FuncLocalizeInstance[] {
  return instances.filter((i): i is FuncLocalizeInstance => i.task === 'func_localize');
}

/** A definition of a workspace file, as the agent would find it by reading the file. */
function definitionIn(ep: Episode, file: string, qualname: string): Definition {
  const result = analyzeModule(file, ep.text(file));
  if ('error' in result) throw new Error(`${file}: ${result.error}`);
  const def = result.analysis.definitions.find((d) => d.qualname === qualname);
  if (!def) throw new Error(`no ${qualname} in ${file}`);
  return def;
}

/** The indentation of a definition's body, from its first line. */
function bodyIndent(ep: Episode, def: Definition): string {
  return /^\s*/.exec(ep.text(def.file).split('\n')[def.body.start - 1]!)![0];
}

/** A docstring literal for `text`, indented like the body: the text cleandoc gives back. */
function literal(text: string, indent: string): string {
  if (text.includes('"""') || text.includes('\\')) throw new Error('the fixture docstrings need no escaping');
  const [first, ...rest] = text.split('\n');
  if (rest.length === 0) return `${indent}"""${first}"""`;
  return [`${indent}"""${first}`, ...rest.map((l) => (l ? `${indent}${l}` : '')), `${indent}"""`].join('\n');
}

/** Writes `line` (indented like the body) after the signature of file:qualname, through the editor. */
async function addToBody(ep: Episode, file: string, qualname: string, line: (indent: string) => string): Promise<void> {
  const def = definitionIn(ep, file, qualname);
  await ep.insert(file, def.signature.end, line(bodyIndent(ep, def)));
}

async function addDocstring(ep: Episode, file: string, qualname: string, text: string): Promise<void> {
  await addToBody(ep, file, qualname, (indent) => literal(text, indent));
}

/** Writes a statement on the line after the docstring of file:qualname, indented like the body. */
async function addAfterDocstring(ep: Episode, file: string, qualname: string, statement: string): Promise<void> {
  const def = definitionIn(ep, file, qualname);
  if (!def.docstring) throw new Error(`${qualname} has no docstring`);
  await ep.insert(file, def.docstring.span.end, `${bodyIndent(ep, def)}${statement}`);
}

async function applyGold(ep: Episode, targets: readonly Target[]): Promise<void> {
  for (const target of targets) await addDocstring(ep, target.file, target.qualname, target.docstring);
}

t.test('generation', async (t) => {
  const [first, again, other] = [await generate(1), await generate(1), await generate(2)];
  const instances = funcLocalize(first);
  t.ok(instances.length >= 10, `${instances.length} func_localize instances`);
  for (const instance of first) t.doesNotThrow(() => assertValid(instance), instance.instance_id);
  t.equal(JSON.stringify(again), JSON.stringify(first), 'the same seed gives the same instances');
  t.not(JSON.stringify(other), JSON.stringify(first), 'another seed gives others');
  t.same(new Set(first.map((i) => i.instance_id)).size, first.length, 'ids are unique');

  const variants = new Set(instances.map((i) => i.variant));
  t.same([...variants].sort(), ['masked', 'multi', 'named']);
  const targets = instances.flatMap((i) => i.gold.targets.map((g) => `${g.file}:${g.qualname}`));
  t.equal(new Set(targets).size, targets.length, 'a definition is the target of one instance at most');
  t.notOk(targets.some((k) => k.startsWith('tests/')), 'no targets in test files');
  t.notOk(targets.some((k) => /__init__$/.test(k)), 'no dunder targets (and none without a docstring)');
  t.notOk(targets.some((k) => k === 'shapes/util.py:pick' || k === 'shapes/base.py:Named.name'), 'a name defined twice (if/else, property getter and setter) is never a target');
  t.ok(targets.includes('shapes/util.py:choose') && targets.includes('shapes/base.py:Named.rename'), 'the definitions around them are');
  t.ok(targets.includes('shapes/util.py:pi_times'), 'a decorated function');
  t.ok(targets.includes('shapes/figures.py:Circle.area'), 'a decorated method');

  for (const instance of instances) {
    t.equal(instance.task, 'func_localize');
    t.equal(instance.description_source, 'rule');
    t.equal(instance.seed, 1);
    t.match(instance.instruction, /\/workspace\/fixture/);
    t.equal(instance.edits.length, instance.gold.targets.length, 'one removal per target');
    t.equal(instance.gold.targets.length, instance.variant === 'multi' ? instance.gold.targets.length : 1);
    if (instance.variant === 'multi') t.ok(instance.gold.targets.length >= 2 && instance.gold.targets.length <= 3);
    for (const target of instance.gold.targets) {
      if (instance.variant === 'named') t.match(instance.instruction, target.qualname);
      else {
        const name = target.qualname.split('.').pop()!;
        t.notOk(instance.instruction.includes(`\`${target.qualname}\``) || instance.instruction.includes(`${name}(`), 'the masked name is not given');
        if (name.includes('_')) t.notOk(instance.instruction.includes(name), `${name} does not appear`);
      }
      t.notOk(instance.instruction.includes(target.docstring), 'the docstring is not pasted');
    }
  }
});

t.test('the workspace: docstrings removed, nothing else, gold lines are the def lines', async (t) => {
  const instances = funcLocalize(await generate(1));
  const cache = t.testdir();
  for (const instance of instances) {
    const ep = await startEpisode(instance, ROOT, cache);
    t.same(await ep.changes(), { modified: [], deleted: [], added: [] }, 'a fresh workspace has no changes');
    const files = new Set(instance.gold.targets.map((g) => g.file));
    for (const target of instance.gold.targets) {
      const def = definitionIn(ep, target.file, target.qualname);
      t.equal(def.docstring, null, `${target.qualname} has no docstring in the workspace`);
      t.equal(def.defLine, target.line, `${target.qualname}: gold line is the def line`);
    }
    for (const path of ep.baseline.files.keys()) {
      const original = await readFile(join(ROOT, path), 'utf8');
      if (files.has(path)) {
        const removed = original.split('\n').length - ep.text(path).split('\n').length;
        const expected = instance.edits.filter((e) => e.file === path).reduce((n, e) => n + e.end - e.start + 1, 0);
        t.equal(removed, expected, `${path}: only the docstring lines are gone`);
      } else t.equal(ep.text(path), original, `${path} is untouched`);
    }
  }
});

t.test('the gold docstrings written through the editor score 1, for every instance', async (t) => {
  const instances = funcLocalize(await generate(1));
  const cache = t.testdir();
  for (const instance of instances) {
    const ep = await startEpisode(instance, ROOT, cache);
    await applyGold(ep, instance.gold.targets);
    const result = gradeFuncLocalize(instance, await ep.changes());
    t.equal(result.reward, 1, `${instance.instance_id} (${instance.variant})`);
    t.equal(result.info.rule, 'graded');
    t.equal(result.info.similarity, 1);
    t.same(result.info.extra_docstrings, []);
    t.same(result.info.added_files, []);
  }
});

t.test('grading one instance', async (t) => {
  const instances = funcLocalize(await generate(1));
  const single = instances.find((i) => i.variant !== 'multi' && i.gold.targets[0]!.file !== 'shapes/base.py')!;
  const target = single.gold.targets[0]!;
  const cache = t.testdir();
  const episode = () => startEpisode(single, ROOT, cache);
  const grade = async (ep: Episode) => gradeFuncLocalize(single, await ep.changes());

  t.test('nothing changed scores 0', async (t) => {
    const result = await grade(await episode());
    t.equal(result.reward, 0);
    t.equal(result.info.rule, 'no_target_documented');
    t.same(result.info.targets, [{ file: target.file, qualname: target.qualname, documented: false, similarity: 0 }]);
    t.same((result.info.levels as GradeLevel[])[0]!.misses, [{ file: target.file, line: target.line, qualname: target.qualname }], 'the undocumented target is a miss');
  });

  t.test('a docstring on another function scores 0', async (t) => {
    const ep = await episode();
    await addDocstring(ep, 'shapes/base.py', 'Shape.__init__', target.docstring);
    const result = await grade(ep);
    t.equal(result.reward, 0);
    t.same(result.info.extra_docstrings, ['shapes/base.py:Shape.__init__']);
    t.equal(result.info.precision, 0);
  });

  t.test('a # comment instead of a docstring scores 0', async (t) => {
    const ep = await episode();
    await addToBody(ep, target.file, target.qualname, (indent) => `${indent}# ${target.docstring.split('\n')[0]}`);
    const result = await grade(ep);
    t.equal(result.reward, 0);
    t.equal(result.info.rule, 'no_target_documented');
  });

  t.test('a docstring too short to describe anything scores 0', async (t) => {
    const ep = await episode();
    await addDocstring(ep, target.file, target.qualname, 'x');
    const result = await grade(ep);
    t.equal(result.reward, 0);
    const [graded] = result.info.targets as { documented: boolean; why?: string }[];
    t.equal(graded!.documented, false);
    t.match(graded!.why, /too short/);
  });

  t.test('another wording scores 1 with a lower similarity', async (t) => {
    const ep = await episode();
    await addDocstring(ep, target.file, target.qualname, 'Describe in other words what happens when this is used.');
    const result = await grade(ep);
    t.equal(result.reward, 1);
    t.ok((result.info.similarity as number) < 0.5, `similarity ${String(result.info.similarity)}`);
  });

  t.test('an extra docstring on a non-target lowers precision', async (t) => {
    const ep = await episode();
    await applyGold(ep, single.gold.targets);
    await addDocstring(ep, 'shapes/base.py', 'Shape.__init__', 'Store the name given to the shape.');
    const result = await grade(ep);
    t.same([result.info.precision, result.info.recall, result.info.f1, result.reward], [0.5, 1, 0.6667, 0.6667]);
    t.same(result.info.extra_docstrings, ['shapes/base.py:Shape.__init__']);
    const [level] = result.info.levels as GradeLevel[];
    t.same(level!.hits, [{ file: target.file, line: target.line, qualname: target.qualname }], 'the target at its def line');
    t.same(level!.misses, []);
    t.match(level!.false_positives, [{ file: 'shapes/base.py', line: Number, qualname: 'Shape.__init__' }]);
    t.same([level!.precision, level!.recall, level!.f1], [0.5, 1, 0.6667]);
  });

  t.test('a docstring changed elsewhere is not an extra one', async (t) => {
    const ep = await episode();
    await applyGold(ep, single.gold.targets);
    await ep.replace('shapes/base.py', '"""A shape on the plane with a name."""', '"""A named shape on the plane."""');
    const result = await grade(ep);
    t.equal(result.reward, 1);
    t.same(result.info.extra_docstrings, []);
  });

  t.test('a new scratch file is reported and does not lower the reward', async (t) => {
    const ep = await episode();
    await applyGold(ep, single.gold.targets);
    const obs = await ep.toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'create', path: `${ep.root}/scratch.py`, file_text: 'print(1)\n' } });
    t.notOk(obs.invalid);
    const result = await grade(ep);
    t.equal(result.reward, 1);
    t.same(result.info.added_files, ['scratch.py']);
  });

  t.test('code smuggled in alongside the gold docstring is caught', async (t) => {
    const smuggles: [string, (ep: Episode) => Promise<unknown>, string][] = [
      ['a changed line of code', (ep) => ep.replace('shapes/util.py', 'return x * x', 'return x * x + 0'), 'shapes/util.py'],
      ['a removed line of code', (ep) => ep.replace('shapes/registry.py', '    total = 0\n', ''), 'shapes/registry.py'],
      ['a new statement after the gold docstring', (ep) => addAfterDocstring(ep, target.file, target.qualname, 'x = 1'), target.file],
      ['a deleted file', (ep) => ep.sandbox.removeFile(`${ep.root}/tests/test_shapes.py`), 'tests/test_shapes.py'],
      ['a modified non-Python file', (ep) => ep.insert('README.md', 1, 'extra'), 'README.md'],
      ['a statement re-indented into the loop', (ep) => ep.replace('shapes/registry.py', '        total += shape.area()\n    return total', '        total += shape.area()\n        return total'), 'shapes/registry.py'],
      ['a string after the first statement (code, not a docstring)', (ep) => ep.replace('shapes/util.py', '    return x * x', '    y = x\n    "Square it."\n    return y * y'), 'shapes/util.py'],
      ['a file that no longer parses', (ep) => ep.replace('shapes/util.py', 'def square(x):', 'def square(x:'), 'shapes/util.py'],
    ];
    for (const [what, smuggle, file] of smuggles) {
      const ep = await episode();
      await applyGold(ep, single.gold.targets);
      await smuggle(ep);
      const result = await grade(ep);
      t.equal(result.reward, 0, what);
      t.equal(result.info.rule, 'code_changed', what);
      t.ok((result.info.code_changes as { file: string }[]).some((c) => c.file === file), `${what}: ${file} is named`);
    }
  });
});

t.test('grading a multi-target instance', async (t) => {
  const multi = funcLocalize(await generate(1)).find((i) => i.variant === 'multi')!;
  const n = multi.gold.targets.length;
  const cache = t.testdir();

  t.test('some targets documented: partial F1', async (t) => {
    const ep = await startEpisode(multi, ROOT, cache);
    await applyGold(ep, multi.gold.targets.slice(0, 1));
    const result = gradeFuncLocalize(multi, await ep.changes());
    const f1 = Math.round((2 / (n + 1)) * 10_000) / 10_000;
    t.same([result.info.precision, result.info.recall, result.info.f1, result.reward], [1, Math.round(10_000 / n) / 10_000, f1, f1]);
    t.same((result.info.targets as { documented: boolean }[]).map((g) => g.documented), multi.gold.targets.map((_, i) => i === 0));
    t.equal(result.info.similarity, Math.round(10_000 / n) / 10_000, 'the mean over targets');
  });

  t.test('every target documented, bottom-up or top-down: 1', async (t) => {
    const ep = await startEpisode(multi, ROOT, t.testdir());
    await applyGold(ep, [...multi.gold.targets].reverse());
    t.equal(gradeFuncLocalize(multi, await ep.changes()).reward, 1);
  });
});

t.test('a repository that yields no instance of a static family says why, per family', async (t) => {
  const root = t.testdir({ pkg: { '__init__.py': '', 'mod.py': 'def double(x):\n    return x * 2\n\n\ndef quad(x):\n    return double(double(x))\n' } });
  const { instances, summary } = await generateForRepo({ root, name: 'bare' }, { seed: 1 });
  t.same(instances.filter((i) => i.task === 'func_localize'), []);
  t.match(summary.notes?.func_localize, /no uniquely named function outside the tests has a real docstring/);
  t.equal(summary.instances.dep_search, 1, 'quad calls double');
  t.notOk(summary.notes?.dep_search, 'no note for a family that yields instances');
  t.match(summary.notes?.func_gen, /no sandboxes/);
  const lone = t.testdir({ pkg: { '__init__.py': '', 'mod.py': 'def alone(x):\n    """Return the given number doubled, as callers want."""\n    return x * 2\n' } });
  const second = await generateForRepo({ root: lone, name: 'lone' }, { seed: 1, tasks: ['dep_search'] });
  t.match(second.summary.notes?.dep_search, /no uniquely named function outside the tests calls 1 to 5 uniquely named definitions/);
});
