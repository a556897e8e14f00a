/**
 * A sample of the default corpus: for at least 200 instances of each family, the gold
 * answer applied through the editor scores 1 and doing nothing scores 0.
 */
import { join } from 'node:path';
import t from 'tap';
import { buildDefaultCorpus } from '../../../env/corpus/default.js';
import { gradeDepSearch } from '../../../env/tasks/dep-search.js';
import { gradeFuncLocalize } from '../../../env/tasks/func-localize.js';
import { readInstances } from '../../../env/tasks/generate.js';
import { Rng } from '../../../env/tasks/rng.js';
import type { DepSearchInstance, FuncLocalizeInstance } from '../../../schemas/tasks.js';
import { corpusEpisode } from '../../helpers/gold.js';

const SAMPLE = 200;
const dir = process.env.HGYM_CORPUS_DIR ?? join(import.meta.dirname, '..', '..', '..', '.hgym', 'corpus');
const corpus = await buildDefaultCorpus(dir);

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
    const ep = await corpusEpisode(dir, instance);
    const noop = gradeFuncLocalize(instance, await ep.changes());
    if (noop.reward !== 0) failures.push(`${instance.instance_id}: no-op scored ${noop.reward}`);
    await ep.applyGold();
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
    const ep = await corpusEpisode(dir, instance);
    const noop = gradeDepSearch(instance, await ep.changes());
    if (noop.reward !== 0) failures.push(`${instance.instance_id}: no-op scored ${noop.reward}`);
    await ep.applyGold();
    const gold = gradeDepSearch(instance, await ep.changes());
    if (gold.reward !== 1) failures.push(`${instance.instance_id}: gold scored ${gold.reward} ${JSON.stringify(gold.info)}`);
  }
  t.same(failures, []);
});
