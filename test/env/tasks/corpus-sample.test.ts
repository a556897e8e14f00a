/**
 * A sample of the default corpus: for at least 200 instances of each family, the gold
 * answer applied through the editor scores 1 and doing nothing scores 0.
 */
import { join } from 'node:path';
import t from 'tap';
import { buildDefaultCorpus } from '../../../env/corpus/default.js';
import { gradeChanges, isStatic } from '../../../env/tasks/families.js';
import { readInstances } from '../../../env/tasks/generate.js';
import { Rng } from '../../../env/tasks/rng.js';
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

for (const family of ['func_localize', 'dep_search'] as const) {
  t.test(`${family}: gold through the editor scores 1, no-op 0, on ${SAMPLE} instances`, async (t) => {
    const picked = sample((await readInstances(join(dir, 'tasks', `${family}.jsonl`))).filter(isStatic), 7);
    t.equal(picked.length, SAMPLE);
    const failures: string[] = [];
    for (const instance of picked) {
      const ep = await corpusEpisode(dir, instance);
      const noop = gradeChanges(instance, await ep.changes());
      if (noop.reward !== 0) failures.push(`${instance.instance_id}: no-op scored ${noop.reward}`);
      await ep.applyGold();
      const gold = gradeChanges(instance, await ep.changes());
      if (gold.reward !== 1) failures.push(`${instance.instance_id}: gold scored ${gold.reward} ${JSON.stringify(gold.info)}`);
    }
    t.same(failures, []);
  });
}
