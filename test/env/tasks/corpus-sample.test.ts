/**
 * A sample of the default corpus: for 200 instances of each static family and 100 of each
 * executed one, the gold answer applied through the editor scores 1 and doing nothing
 * scores 0. func_gen is graded by running the tests in real sandboxes.
 */
import { join } from 'node:path';
import t from 'tap';
import { buildDefaultCorpus } from '../../../env/corpus/default.js';
import { gradeChanges, isStatic } from '../../../env/tasks/families.js';
import { readInstances } from '../../../env/tasks/generate.js';
import { Rng } from '../../../env/tasks/rng.js';
import { applyFuncGenGold, corpusEpisode } from '../../helpers/gold.js';
import { snapshotsOf } from '../../../env/corpus/load.js';
import { prepareWorkspace } from '../../../env/corpus/workspace.js';
import { workspacePath } from '../../../env/tasks/context.js';
import { gradeFuncGen, readSubmission } from '../../../env/tasks/func-gen.js';
import { ToolBox } from '../../../env/tools/toolbox.js';
import { DockerSandboxPool } from '../../../docker/pool.js';
import { environmentTools } from '../../../docker/environment-image.js';
import type { FuncGenInstance } from '../../../schemas/tasks.js';

// 200 func_gen gradings run the tests in sandboxes: minutes, on a loaded two-core machine.
t.setTimeout(900_000);

const SAMPLE = 200;
const EXECUTED_SAMPLE = 100;
const dir = process.env.HGYM_CORPUS_DIR ?? join(import.meta.dirname, '..', '..', '..', '.hgym', 'corpus');
const pool = await DockerSandboxPool.start({ warm: 2, max: 4 });
t.teardown(() => pool.close());
// The corpus as setup builds it (reused when up to date).
const corpus = await buildDefaultCorpus(dir, { execution: { pool, workers: 2 }, environments: await environmentTools(pool.image, join(dir, 'cache', 'images')) });

function sample<T>(items: T[], seed: number, n = SAMPLE): T[] {
  return new Rng(seed).shuffle(items).slice(0, n);
}

t.test('the default corpus holds enough instances', async (t) => {
  t.ok(corpus.instances.func_localize! >= 1000, `${corpus.instances.func_localize} func_localize instances`);
  t.ok(corpus.instances.dep_search! >= 500, `${corpus.instances.dep_search} dep_search instances`);
  t.ok(corpus.instances.issue_localize! >= 300, `${corpus.instances.issue_localize} issue_localize instances`);
  t.ok(corpus.instances.func_gen! >= 300, `${corpus.instances.func_gen} func_gen instances`);
});

for (const family of ['func_localize', 'dep_search', 'issue_localize'] as const) {
  const n = family === 'issue_localize' ? EXECUTED_SAMPLE : SAMPLE;
  t.test(`${family}: gold through the editor scores 1, no-op 0, on ${n} instances`, async (t) => {
    const picked = sample((await readInstances(join(dir, 'tasks', `${family}.jsonl`))).filter(isStatic), 7, n);
    t.equal(picked.length, n);
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

t.test(`func_gen: the original body through the editor scores 1, no-op 0, on ${EXECUTED_SAMPLE} instances, tests run in sandboxes`, async (t) => {
  const picked = sample((await readInstances(join(dir, 'tasks', 'func_gen.jsonl'))).filter((i): i is FuncGenInstance => i.task === 'func_gen'), 7, EXECUTED_SAMPLE);
  t.equal(picked.length, EXECUTED_SAMPLE);
  const cacheDir = join(dir, 'cache', 'workspaces');
  const snapshotFor = snapshotsOf(dir);
  const failures: string[] = [];
  const queue = [...picked];
  const worker = async () => {
    for (let instance = queue.shift(); instance; instance = queue.shift()) {
      const snapshot = await snapshotFor(instance);
      const root = workspacePath(instance.repo.name);
      const workspace = await prepareWorkspace(instance, snapshot, cacheDir);
      // As an episode does: the agent's file is read, its sandbox released, then graded in a fresh one.
      const texts: (string | null)[] = [];
      {
        await using sandbox = await pool.acquire({ waitMs: 60_000 });
        await sandbox.putArchive(root, await workspace.archive());
        texts.push(await readSubmission(instance, sandbox, root));
        const read = async (file: string) => {
          const r = await sandbox.readFile(`${root}/${file}`);
          return r.kind === 'file' ? (r.text ?? '') : '';
        };
        await applyFuncGenGold(new ToolBox(sandbox), root, instance, read);
        texts.push(await readSubmission(instance, sandbox, root));
      }
      const execution = { pool, snapshot, cacheDir };
      const noop = await gradeFuncGen(instance, texts[0]!, execution);
      if (noop.reward !== 0) failures.push(`${instance.instance_id}: no-op scored ${noop.reward}`);
      const gold = await gradeFuncGen(instance, texts[1]!, execution);
      if (gold.reward !== 1) failures.push(`${instance.instance_id}: gold scored ${gold.reward} ${JSON.stringify(gold.info)}`);
    }
  };
  await Promise.all([worker(), worker()]);
  t.same(failures, []);
});
