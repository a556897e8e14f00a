/**
 * A sample of the default corpus: for at least 200 instances of each family, the gold
 * answer applied through the editor scores 1 and doing nothing scores 0.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { buildDefaultCorpus } from '../../../env/corpus/default.js';
import { sha256 } from '../../../env/corpus/snapshot.js';
import { collectChanges } from '../../../env/tasks/changes.js';
import { gradeDepSearch } from '../../../env/tasks/dep-search.js';
import { applyEdits } from '../../../env/tasks/edits.js';
import { gradeFuncLocalize } from '../../../env/tasks/func-localize.js';
import { readInstances } from '../../../env/tasks/generate.js';
import { Rng } from '../../../env/tasks/rng.js';
import { ToolBox } from '../../../env/tools/toolbox.js';
import type { DepSearchInstance, FuncLocalizeInstance, TaskInstance } from '../../../schemas/tasks.js';
import { applyDepSearchGold, applyFuncLocalizeGold } from '../../helpers/gold.js';
import { MemorySandbox } from '../../helpers/memory-sandbox.js';

const SAMPLE = 200;
const dir = process.env.HGYM_CORPUS_DIR ?? join(import.meta.dirname, '..', '..', '..', '.hgym', 'corpus');
const corpus = await buildDefaultCorpus(dir);

/** The workspace files an instance touches, as the agent gets them (edits applied). */
async function episode(instance: TaskInstance) {
  const files = new Set(instance.edits.map((e) => e.file));
  if (instance.task === 'func_localize') for (const x of instance.gold.targets) files.add(x.file);
  else for (const d of instance.gold.dependencies) files.add(d.file);
  const root = `/workspace/${instance.repo.name}`;
  const sandbox = new MemorySandbox();
  const baseline = new Map<string, string>();
  const texts = new Map<string, string>();
  for (const file of files) {
    const original = await readFile(join(dir, 'repos', instance.repo.name, file), 'utf8');
    const text = applyEdits(original, instance.edits.filter((e) => e.file === file));
    sandbox.put(`${root}/${file}`, text);
    baseline.set(file, sha256(text));
    texts.set(file, text);
  }
  const read = async (file: string) => String(sandbox.content(`${root}/${file}`));
  const changes = () => collectChanges(sandbox, root, { files: baseline, read: async (f) => texts.get(f) ?? null });
  return { root, toolbox: new ToolBox(sandbox), read, changes };
}

function sample<T>(items: T[], seed: number): T[] {
  return new Rng(seed).shuffle(items).slice(0, SAMPLE);
}

t.test('the default corpus holds enough instances', async (t) => {
  t.ok(corpus.instances.func_localize! >= 1000, `${corpus.instances.func_localize} func_localize instances`);
  t.ok(corpus.instances.dep_search! >= 500, `${corpus.instances.dep_search} dep_search instances`);
});

t.test(`func_localize: gold through the editor scores 1, no-op 0, on ${SAMPLE} instances`, async (t) => {
  const all = (await readInstances(join(dir, 'tasks', 'func_localize.jsonl'))) as FuncLocalizeInstance[];
  const picked = sample(all, 7);
  t.equal(picked.length, SAMPLE);
  const failures: string[] = [];
  for (const instance of picked) {
    const ep = await episode(instance);
    const noop = gradeFuncLocalize(instance, await ep.changes());
    if (noop.reward !== 0) failures.push(`${instance.instance_id}: no-op scored ${noop.reward}`);
    await applyFuncLocalizeGold(ep.toolbox, ep.root, instance, ep.read);
    const gold = gradeFuncLocalize(instance, await ep.changes());
    if (gold.reward !== 1) failures.push(`${instance.instance_id}: gold scored ${gold.reward} ${JSON.stringify(gold.info)}`);
  }
  t.same(failures, []);
});

t.test(`dep_search: gold through the editor scores 1, no-op 0, on ${SAMPLE} instances`, async (t) => {
  const all = (await readInstances(join(dir, 'tasks', 'dep_search.jsonl'))) as DepSearchInstance[];
  const picked = sample(all, 7);
  t.equal(picked.length, SAMPLE);
  const failures: string[] = [];
  for (const instance of picked) {
    const ep = await episode(instance);
    const noop = gradeDepSearch(instance, await ep.changes());
    if (noop.reward !== 0) failures.push(`${instance.instance_id}: no-op scored ${noop.reward}`);
    await applyDepSearchGold(ep.toolbox, ep.root, instance, ep.read);
    const gold = gradeDepSearch(instance, await ep.changes());
    if (gold.reward !== 1) failures.push(`${instance.instance_id}: gold scored ${gold.reward} ${JSON.stringify(gold.info)}`);
  }
  t.same(failures, []);
});
