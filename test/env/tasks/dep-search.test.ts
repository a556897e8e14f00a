import { fileURLToPath } from 'node:url';
import t from 'tap';
import { depComment, gradeDepSearch, MAX_DEPENDENCIES, MIN_DEPENDENCIES, normalizeComment } from '../../../env/tasks/dep-search.js';
import { assertValid, generateForRepo } from '../../../env/tasks/generate.js';
import type { DepSearchInstance, TaskInstance } from '../../../schemas/tasks.js';
import type { GradeLevel } from '../../../schemas/api.js';
import { startEpisode, type Episode } from '../../helpers/episode.js';

const ROOT = fileURLToPath(new URL('../../fixtures/tasks/shapes', import.meta.url));

type Dependency = DepSearchInstance['gold']['dependencies'][number];

async function generate(seed: number): Promise<TaskInstance[]> {
  return (await generateForRepo({ root: ROOT, name: 'fixture' }, { seed, maxPerRepo: 50 })).instances;
}

function depSearch(instances: readonly TaskInstance[]): DepSearchInstance[] {
  return instances.filter((i): i is DepSearchInstance => i.task === 'dep_search');
}

function byTarget(instances: readonly DepSearchInstance[], qualname: string): DepSearchInstance {
  const found = instances.find((i) => i.gold.target.qualname === qualname);
  if (!found) throw new Error(`no dep_search instance for ${qualname}`);
  return found;
}

/**
 * Writes `line` above each location (indented like the line it goes above), through the
 * editor, bottom-up per file so that the line numbers stay valid.
 */
async function commentAbove(ep: Episode, places: readonly { file: string; start: number }[], line: string): Promise<void> {
  const sorted = [...places].sort((a, b) => (a.file === b.file ? b.start - a.start : a.file < b.file ? -1 : 1));
  for (const { file, start } of sorted) {
    const indent = /^\s*/.exec(ep.text(file).split('\n')[start - 1]!)![0];
    await ep.insert(file, start - 1, `${indent}${line}`);
  }
}

async function applyGold(ep: Episode, instance: DepSearchInstance, deps: readonly Dependency[] = instance.gold.dependencies): Promise<void> {
  await commentAbove(ep, deps, instance.gold.comment);
}

/** The line (1-based) where `text` starts in a workspace file. */
function lineOf(ep: Episode, file: string, text: string): number {
  const index = ep.text(file).split('\n').findIndex((l) => l.trim() === text);
  if (index < 0) throw new Error(`no line ${text} in ${file}`);
  return index + 1;
}

t.test('normalizeComment and depComment', async (t) => {
  const wanted = normalizeComment(depComment('make'));
  t.equal(depComment('make'), '# this function/class is called by the make function');
  for (const variant of [
    '# this function/class is called by the make function',
    '    # This Function/Class is called by the MAKE function.',
    '#this function/class   is called by the make function',
    '\t# this function/class is called by\tthe make function  ',
  ]) t.equal(normalizeComment(variant), wanted, JSON.stringify(variant));
  for (const other of [
    '# this function is called by the make function',
    '# this function/class is called by the make function, twice',
    '# this function/class is called by the dump function',
    'this function/class is called by the make function',
    '"""this function/class is called by the make function"""',
  ]) t.not(normalizeComment(other), wanted, JSON.stringify(other));
});

t.test('generation', async (t) => {
  const [first, again, other] = [await generate(1), await generate(1), await generate(2)];
  const instances = depSearch(first);
  for (const instance of first) t.doesNotThrow(() => assertValid(instance), instance.instance_id);
  t.equal(JSON.stringify(again), JSON.stringify(first), 'the same seed gives the same instances');
  t.not(JSON.stringify(depSearch(other)), JSON.stringify(instances), 'another seed gives another order');
  t.same(
    depSearch(other).map((i) => i.instance_id).sort(),
    instances.map((i) => i.instance_id).sort(),
    'with room for every target, the seed changes the order, not the set',
  );

  const deps = Object.fromEntries(
    instances.map((i) => [`${i.gold.target.file}:${i.gold.target.qualname}`, i.gold.dependencies.map((d) => `${d.file}:${d.qualname}@${d.line}/${d.start}`)]),
  );
  t.same(deps, {
    'shapes/base.py:Shape.describe': ['shapes/base.py:Shape.area@11/11', 'shapes/util.py:clamp@8/8'],
    'shapes/figures.py:Circle.__init__': ['shapes/base.py:Shape.__init__@8/8'],
    'shapes/figures.py:Circle.area': ['shapes/util.py:square@13/13', 'shapes/util.py:pi_times@19/18'],
    'shapes/figures.py:Circle.scaled': ['shapes/figures.py:Circle@6/6'],
    'shapes/figures.py:Square.__init__': ['shapes/base.py:Shape.__init__@8/8'],
    'shapes/figures.py:Square.area': ['shapes/util.py:square@13/13'],
    'shapes/figures.py:Square.report': ['shapes/base.py:Shape.describe@15/15', 'shapes/figures.py:clamp_side@40/40'],
    'shapes/figures.py:clamp_side': ['shapes/util.py:clamp@8/8'],
    'shapes/registry.py:make': ['shapes/figures.py:Circle@6/6', 'shapes/figures.py:Square@23/23', 'shapes/util.py:clamp@8/8'],
    'shapes/base.py:Named.rename': ['shapes/base.py:choose_name@48/48'],
  }, 'every target with its dependencies: super().__init__, an inherited self. method, a decorated dependency, imports in a function, a module alias; not choose, whose dependency pick is defined twice; not biggest, whose s.area() may reach the area of any shape');

  for (const instance of instances) {
    t.equal(instance.task, 'dep_search');
    t.same(instance.edits, [], 'the workspace is the snapshot');
    t.equal(instance.gold.comment, depComment(instance.gold.target.qualname));
    t.ok(instance.instruction.includes(instance.gold.comment), 'the instruction gives the comment');
    t.match(instance.instruction, /\/workspace\/fixture/);
    t.ok(instance.gold.dependencies.length >= MIN_DEPENDENCIES && instance.gold.dependencies.length <= MAX_DEPENDENCIES);
  }
  // Buckets by dependency count are taken in turn: the first instances have 1, 2, 3 dependencies.
  t.same(instances.slice(0, 3).map((i) => i.gold.dependencies.length), [1, 2, 3]);
});

t.test('the gold comments written through the editor score 1, for every instance', async (t) => {
  const instances = depSearch(await generate(1));
  const cache = t.testdir();
  for (const instance of instances) {
    const ep = await startEpisode(instance, ROOT, cache);
    t.same(await ep.changes(), { modified: [], deleted: [], added: [] });
    await applyGold(ep, instance);
    const result = gradeDepSearch(instance, await ep.changes());
    t.equal(result.reward, 1, instance.gold.target.qualname);
    t.same(result.info.false_positives, []);
    t.same(result.info.misses, []);
    t.same(result.info.hits, instance.gold.dependencies.map((d) => `${d.file}:${d.qualname}`));
  }
});

t.test('grading', async (t) => {
  const instances = depSearch(await generate(1));
  const make = byTarget(instances, 'make');
  const area = byTarget(instances, 'Circle.area');
  const cache = t.testdir();

  t.test('nothing changed scores 0', async (t) => {
    const ep = await startEpisode(make, ROOT, cache);
    const result = gradeDepSearch(make, await ep.changes());
    t.equal(result.reward, 0);
    t.same(result.info, {
      rule: 'graded',
      precision: 0,
      recall: 0,
      f1: 0,
      hits: [],
      misses: ['shapes/figures.py:Circle', 'shapes/figures.py:Square', 'shapes/util.py:clamp'],
      false_positives: [],
      levels: [
        {
          level: 'definition',
          precision: 0,
          recall: 0,
          f1: 0,
          hits: [],
          misses: make.gold.dependencies.map((d) => ({ file: d.file, line: d.line, qualname: d.qualname })),
          false_positives: [],
        },
      ],
      added_files: [],
    });
  });

  t.test('comments above non-dependencies score 0', async (t) => {
    const ep = await startEpisode(make, ROOT, cache);
    const dumpLine = lineOf(ep, 'shapes/registry.py', 'def dump(shapes):');
    const squareLine = lineOf(ep, 'shapes/util.py', 'def square(x):');
    await commentAbove(ep, [{ file: 'shapes/registry.py', start: dumpLine }, { file: 'shapes/util.py', start: squareLine }], make.gold.comment);
    const result = gradeDepSearch(make, await ep.changes());
    t.equal(result.reward, 0);
    t.same(result.info.false_positives, ['shapes/registry.py:dump', 'shapes/util.py:square']);
    t.equal(result.info.precision, 0);
    const [level] = result.info.levels as GradeLevel[];
    t.same(level!.false_positives, [
      { file: 'shapes/registry.py', line: dumpLine, qualname: 'dump', note: 'not a dependency' },
      { file: 'shapes/util.py', line: squareLine, qualname: 'square', note: 'not a dependency' },
    ], 'each false positive at its comment line, the def below it after the insert');
  });

  t.test('some dependencies commented: partial recall and F1', async (t) => {
    const ep = await startEpisode(make, ROOT, cache);
    await applyGold(ep, make, make.gold.dependencies.slice(0, 1));
    const result = gradeDepSearch(make, await ep.changes());
    t.same([result.info.precision, result.info.recall, result.info.f1, result.reward], [1, 0.3333, 0.5, 0.5]);
    t.same(result.info.hits, ['shapes/figures.py:Circle']);
    t.same(result.info.misses, ['shapes/figures.py:Square', 'shapes/util.py:clamp']);
    const [level] = result.info.levels as GradeLevel[];
    const at = (d: { file: string; line: number; qualname: string }) => ({ file: d.file, line: d.line, qualname: d.qualname });
    t.same(level, { level: 'definition', precision: 1, recall: 0.3333, f1: 0.5, hits: [at(make.gold.dependencies[0]!)], misses: make.gold.dependencies.slice(1).map(at), false_positives: [] });
  });

  t.test('two of three and one wrong', async (t) => {
    const ep = await startEpisode(make, ROOT, cache);
    await applyGold(ep, make, make.gold.dependencies.slice(1));
    await commentAbove(ep, [{ file: 'shapes/registry.py', start: lineOf(ep, 'shapes/registry.py', 'def dump(shapes):') }], make.gold.comment);
    const result = gradeDepSearch(make, await ep.changes());
    t.same([result.info.precision, result.info.recall, result.info.f1], [0.6667, 0.6667, 0.6667]);
  });

  t.test('a duplicate comment lowers precision', async (t) => {
    const ep = await startEpisode(make, ROOT, cache);
    await applyGold(ep, make);
    const clamp = make.gold.dependencies.find((d) => d.qualname === 'clamp')!;
    await ep.insert(clamp.file, clamp.start - 1, make.gold.comment);
    const result = gradeDepSearch(make, await ep.changes());
    t.same([result.info.precision, result.info.recall, result.info.f1], [0.75, 1, 0.8571]);
    t.equal((result.info.false_positives as string[]).length, 1);
    t.match((result.info.false_positives as string[])[0], /^shapes\/util\.py:\d+ \(above no definition\)$/);
    t.match((result.info.levels as GradeLevel[])[0]!.false_positives, [{ file: 'shapes/util.py', line: Number, note: 'above no definition' }]);
  });

  t.test('a comment between the decorator and the def does not count', async (t) => {
    const ep = await startEpisode(area, ROOT, cache);
    const piTimes = area.gold.dependencies.find((d) => d.qualname === 'pi_times')!;
    t.equal(piTimes.start, piTimes.line - 1, 'pi_times has one decorator line');
    const square = area.gold.dependencies.find((d) => d.qualname === 'square')!;
    await commentAbove(ep, [square, { file: piTimes.file, start: piTimes.line }], area.gold.comment);
    const result = gradeDepSearch(area, await ep.changes());
    t.same(result.info.hits, ['shapes/util.py:square']);
    t.same(result.info.misses, ['shapes/util.py:pi_times']);
    t.same([result.info.precision, result.info.recall, result.info.f1, result.reward], [0.5, 0.5, 0.5, 0.5]);
  });

  t.test('case, white space and a final period do not matter; other words do', async (t) => {
    const variants: [string, number][] = [
      [area.gold.comment.toUpperCase(), 1],
      [area.gold.comment.replace(/ /g, '   '), 1],
      [`${area.gold.comment}.`, 1],
      [area.gold.comment.replace('# ', '#'), 1],
      [area.gold.comment.replace('called', 'used'), 0],
      [area.gold.comment.replace('Circle.area', 'area'), 0],
    ];
    for (const [comment, reward] of variants) {
      const ep = await startEpisode(area, ROOT, cache);
      await commentAbove(ep, area.gold.dependencies, comment);
      t.equal(gradeDepSearch(area, await ep.changes()).reward, reward, comment);
    }
  });

  t.test('another comment or a blank line between the comment and the definition does not count', async (t) => {
    const ep = await startEpisode(area, ROOT, cache);
    await applyGold(ep, area);
    const squareDef = lineOf(ep, 'shapes/util.py', 'def square(x):');
    await ep.insert('shapes/util.py', squareDef - 1, '');
    let result = gradeDepSearch(area, await ep.changes());
    t.same(result.info.misses, ['shapes/util.py:square']);
    t.same(result.info.false_positives, [`shapes/util.py:${squareDef - 1} (above no definition)`]);
    t.same([result.info.precision, result.info.recall, result.info.f1], [0.5, 0.5, 0.5]);
    const decorator = lineOf(ep, 'shapes/util.py', '@functools.lru_cache(maxsize=None)');
    await ep.insert('shapes/util.py', decorator - 1, '# cached');
    result = gradeDepSearch(area, await ep.changes());
    t.same(result.info.hits, []);
    t.equal(result.reward, 0);
  });

  t.test('a scratch file is reported and does not lower the reward', async (t) => {
    const ep = await startEpisode(area, ROOT, cache);
    await applyGold(ep, area);
    t.notOk((await ep.toolbox.run({ tool: 'str_replace_editor', arguments: { command: 'create', path: `${ep.root}/notes.txt`, file_text: 'deps\n' } })).invalid);
    const result = gradeDepSearch(area, await ep.changes());
    t.equal(result.reward, 1);
    t.same(result.info.added_files, ['notes.txt']);
  });

  t.test('code smuggled in alongside the gold comments is caught', async (t) => {
    const smuggles: [string, (ep: Episode) => Promise<unknown>, string][] = [
      ['a changed line of code', (ep) => ep.replace('shapes/util.py', 'return x * x', 'return x ** 2'), 'shapes/util.py'],
      ['a removed line of code', (ep) => ep.replace('shapes/registry.py', '    total = 0\n', ''), 'shapes/registry.py'],
      ['a new statement beside a comment', (ep) => ep.replace('shapes/util.py', 'def square(x):\n', 'x = 1\ndef square(x):\n'), 'shapes/util.py'],
      ['a deleted file', (ep) => ep.sandbox.removeFile(`${ep.root}/shapes/registry.py`), 'shapes/registry.py'],
      ['a modified non-Python file', (ep) => ep.replace('setup.cfg', 'version = 0.1', 'version = 0.2'), 'setup.cfg'],
      ['a statement re-indented into the loop', (ep) => ep.replace('shapes/registry.py', '        total += shape.area()\n    return total', '        total += shape.area()\n        return total'), 'shapes/registry.py'],
    ];
    for (const [what, smuggle, file] of smuggles) {
      const ep = await startEpisode(area, ROOT, cache);
      await applyGold(ep, area);
      await smuggle(ep);
      const result = gradeDepSearch(area, await ep.changes());
      t.equal(result.reward, 0, what);
      t.equal(result.info.rule, 'code_changed', what);
      t.ok((result.info.code_changes as { file: string }[]).some((c) => c.file === file), `${what}: ${file} is named`);
    }
  });
});
