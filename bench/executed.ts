/**
 * The executed families of the default corpus. Prints one JSON object:
 * - instances: issue_localize and func_gen counts, per repository;
 * - traced: per repository with tests, the functions and methods outside test modules that
 *   passing tests reach, how many of them func_gen could ask for (a docstring and a body of
 *   its own), and how many it kept (the placeholder fails a test); kept_share = kept / reached;
 * - grading_ms: func_gen grading (copy of the snapshot with the agent's function, the tests
 *   run) on a sample of instances, the gold body applied through the editor beforehand (not
 *   timed), p50 and p99; and the same for the no-op.
 * Needs the Docker engine and the corpus setup builds. Usage:
 *   node --import tsx bench/executed.ts [--sample N]
 */
import { join } from 'node:path';
import { analyzeRepo } from '../env/analysis/repo.js';
import { buildDefaultCorpus } from '../env/corpus/default.js';
import { snapshotOf } from '../env/corpus/snapshot.js';
import { snapshotsOf } from '../env/corpus/load.js';
import { prepareWorkspace } from '../env/corpus/workspace.js';
import { isTestFile, workspacePath } from '../env/tasks/context.js';
import { testsReaching, traceSuite } from '../env/tasks/executed.js';
import { gradeFuncGen, readSubmission } from '../env/tasks/func-gen.js';
import { readInstances } from '../env/tasks/generate.js';
import { Rng } from '../env/tasks/rng.js';
import { ToolBox } from '../env/tools/toolbox.js';
import { DockerSandboxPool } from '../docker/pool.js';
import { environmentTools } from '../docker/environment-image.js';
import type { FuncGenInstance, TaskInstance } from '../schemas/tasks.js';
import { applyFuncGenGold } from '../test/helpers/gold.js';
import { numberArg, percentile, round } from './stats.js';
import { snapshotRoot } from '../env/corpus/load.js';

const SAMPLE = numberArg('sample', 60);
const dir = process.env.HGYM_CORPUS_DIR ?? join(import.meta.dirname, '..', '.hgym', 'corpus');
const cacheDir = join(dir, 'cache', 'workspaces');
const pool = await DockerSandboxPool.start({ warm: 2, max: 4 });
try {
  const execution = { pool, cacheDir, runsDir: join(dir, 'cache', 'runs') };
  const corpus = await buildDefaultCorpus(dir, { execution: { pool }, environments: await environmentTools(pool.image, join(dir, 'cache', 'images')) });
  const all: TaskInstance[] = [...(await readInstances(join(dir, 'tasks', 'issue_localize.jsonl'))), ...(await readInstances(join(dir, 'tasks', 'func_gen.jsonl')))];
  const funcGen = all.filter((i): i is FuncGenInstance => i.task === 'func_gen');

  const traced: Record<string, { reached: number; documented: number; kept: number; kept_share: number }> = {};
  for (const repo of corpus.repos.filter((r) => r.instances.func_gen !== undefined)) {
    const root = snapshotRoot(dir, { repo: { name: repo.repo } });
    const analysis = await analyzeRepo(root);
    const snapshot = await snapshotOf(root);
    const ctx = { name: repo.repo, ref: { name: repo.repo, snapshot: snapshot.id, license: '' }, analysis, source: async () => '' };
    const suite = await traceSuite(ctx, snapshot, execution);
    const defs = analysis.modules.filter((m) => !isTestFile(m.file)).flatMap((m) => m.definitions.filter((d) => d.kind !== 'class' && testsReaching(suite, d).length > 0));
    const documented = defs.filter((d) => d.docstring?.hasFollowingStatements).length;
    const kept = funcGen.filter((i) => i.repo.name === repo.repo).length;
    traced[repo.repo] = { reached: defs.length, documented, kept, kept_share: round(kept / Math.max(1, defs.length), 3) };
  }

  const gold: number[] = [];
  const noop: number[] = [];
  const snapshotFor = snapshotsOf(dir);
  for (const instance of new Rng(5).shuffle(funcGen).slice(0, SAMPLE)) {
    const snapshot = await snapshotFor(instance);
    const root = workspacePath(instance.repo.name);
    // As an episode pays for it: the agent's file read, its sandbox released, the tests run in a fresh one.
    const texts: (string | null)[] = [];
    {
      await using sandbox = await pool.acquire({ waitMs: 60_000 });
      await sandbox.putArchive(root, await (await prepareWorkspace(instance, snapshot, cacheDir)).archive());
      texts.push(await readSubmission(instance, sandbox, root));
      await applyFuncGenGold(new ToolBox(sandbox), root, instance, async (file) => {
        const r = await sandbox.readFile(`${root}/${file}`);
        return r.kind === 'file' ? (r.text ?? '') : '';
      });
      texts.push(await readSubmission(instance, sandbox, root));
    }
    const context = { pool, snapshot, cacheDir };
    let started = performance.now();
    const n = await gradeFuncGen(instance, texts[0]!, context);
    noop.push(performance.now() - started);
    if (n.reward !== 0) throw new Error(`${instance.instance_id}: the no-op scored ${n.reward}`);
    started = performance.now();
    const g = await gradeFuncGen(instance, texts[1]!, context);
    gold.push(performance.now() - started);
    if (g.reward !== 1) throw new Error(`${instance.instance_id}: the gold answer scored ${g.reward} ${JSON.stringify(g.info)}`);
  }
  process.stdout.write(
    `${JSON.stringify(
      {
        benchmark: 'executed',
        instances: {
          issue_localize: all.filter((i) => i.task === 'issue_localize').length,
          func_gen: funcGen.length,
          per_repo: Object.fromEntries(corpus.repos.filter((r) => r.instances.func_gen !== undefined).map((r) => [r.repo, { issue_localize: r.instances.issue_localize, func_gen: r.instances.func_gen }])),
        },
        traced,
        grading_ms: { func_gen_gold: { n: gold.length, p50: percentile(gold, 50), p99: percentile(gold, 99) }, func_gen_noop: { n: noop.length, p50: percentile(noop, 50), p99: percentile(noop, 99) } },
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await pool.close();
}
