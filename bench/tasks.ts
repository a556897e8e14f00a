/**
 * Task generation and grading benchmark over the default corpus. Prints one JSON object:
 * - analysis: MB of Python source per second through analyzeRepo (read, parse, extract,
 *   index), the median of five passes over the corpus, after one untimed warm-up run that
 *   starts the worker pool;
 * - generation: milliseconds per static family over all repositories (after analysis; the
 *   executed families are measured by bench/executed.ts);
 * - grading: per static family, what grading costs an episode after `finish`, on the gold
 *   answer (applied through the editor in a real sandbox beforehand, not timed): every agent
 *   process killed, the workspace's changes read through the executor (digest and the changed
 *   files), and the grader; for a sample of instances, p50 and p99. `grading_ms` is after the
 *   warm-up a reset does in the background (warmGrading: the files the instance edits and
 *   its answer lies in, untimed, as a reset pays for it); `grading_cold_ms` is the same
 *   grading with nothing cached, what a grade costs when the agent changed other files.
 * Usage: node --import tsx bench/tasks.ts [--sample N]
 */
import { join } from 'node:path';
import { analyzeRepo } from '../env/analysis/repo.js';
import { buildDefaultCorpus } from '../env/corpus/default.js';
import { DockerSandboxPool } from '../docker/pool.js';
import { environmentTools } from '../docker/environment-image.js';
import { collectSubmission, gradeSubmission, isStatic, warmGrading } from '../env/tasks/families.js';
import { forgetFacts } from '../env/tasks/python-facts.js';
import { prepareWorkspace } from '../env/corpus/workspace.js';
import { snapshotsOf } from '../env/corpus/load.js';
import { workspacePath } from '../env/tasks/context.js';
import { ToolBox } from '../env/tools/toolbox.js';
import { EXECUTED_FAMILIES, FAMILIES, generateForRepo, readInstances } from '../env/tasks/generate.js';
import { Rng } from '../env/tasks/rng.js';
import { applyGold } from '../test/helpers/gold.js';
import { numberArg, percentile, round } from './stats.js';
import { snapshotRoot } from '../env/corpus/load.js';

const SAMPLE = numberArg('sample', 200);
const PASSES = 5;
const dir = process.env.HGYM_CORPUS_DIR ?? join(import.meta.dirname, '..', '.hgym', 'corpus');

// The corpus as setup builds it; reused when up to date (no sandbox starts then).
const pool = await DockerSandboxPool.start({ warm: 2, max: 3 });
const corpus = await buildDefaultCorpus(dir, { execution: { pool }, environments: await environmentTools(pool.image, join(dir, 'cache', 'images')) });
// Warm-up, not timed: starts the analysis worker pool (kept for the life of the process)
// and lets the JIT settle, as in a long-running generator or server.
const largest = [...corpus.repos].sort((a, b) => b.bytes - a.bytes)[0]!;
await analyzeRepo(snapshotRoot(dir, { repo: { name: largest.repo } }));
let bytes = 0;
const STATIC = FAMILIES.filter((f) => !EXECUTED_FAMILIES.includes(f));
const generationMs: Record<string, number> = Object.fromEntries(STATIC.map((f) => [f, 0]));
const counts: Record<string, number> = Object.fromEntries(STATIC.map((f) => [f, 0]));
for (const repo of corpus.repos) {
  const { summary } = await generateForRepo({ root: snapshotRoot(dir, { repo: { name: repo.repo } }), name: repo.repo }, { seed: 1 });
  bytes += summary.bytes;
  for (const f of STATIC) {
    generationMs[f]! += summary.generationMs[f] ?? 0;
    counts[f]! += summary.instances[f] ?? 0;
  }
}

// Throughput of whole passes over the corpus; the median of the passes is the figure.
const passes: number[] = [];
for (let pass = 0; pass < PASSES; pass++) {
  let ms = 0;
  for (const repo of corpus.repos) ms += (await analyzeRepo(snapshotRoot(dir, { repo: { name: repo.repo } }))).stats.ms;
  passes.push(round(bytes / 1e6 / (ms / 1000), 2));
}

const grading: Record<string, { n: number; p50: number; p99: number }> = {};
const gradingCold: Record<string, { n: number; p50: number; p99: number }> = {};
const cacheDir = join(dir, 'cache', 'workspaces');
const snapshotFor = snapshotsOf(dir);
// issue_localize is graded statically too; func_gen runs tests (bench/executed.ts).
for (const family of FAMILIES.filter((f) => f !== 'func_gen')) {
  const all = await readInstances(join(dir, 'tasks', `${family}.jsonl`));
  const times: number[] = [];
  const cold: number[] = [];
  for (const instance of new Rng(11).shuffle(all.filter(isStatic)).slice(0, SAMPLE)) {
    const snapshot = await snapshotFor(instance);
    const workspace = await prepareWorkspace(instance, snapshot, cacheDir);
    const root = workspacePath(instance.repo.name);
    await using sandbox = await pool.acquire({ waitMs: 60_000 });
    await sandbox.putArchive(root, await workspace.archive());
    await applyGold(new ToolBox(sandbox), root, instance, async (file) => {
      const r = await sandbox.readFile(`${root}/${file}`);
      return r.kind === 'file' ? (r.text ?? '') : '';
    });
    const grade = async (): Promise<number> => {
      const started = performance.now();
      const submission = await collectSubmission(instance, sandbox, root, workspace);
      const result = await gradeSubmission(instance, submission, { pool, snapshot, cacheDir });
      const ms = performance.now() - started;
      if (result.reward !== 1) throw new Error(`${instance.instance_id}: the gold answer scored ${result.reward}`);
      return ms;
    };
    forgetFacts();
    cold.push(await grade());
    forgetFacts();
    await warmGrading(instance, workspace, 'now');
    times.push(await grade());
  }
  grading[family] = { n: times.length, p50: percentile(times, 50), p99: percentile(times, 99) };
  gradingCold[family] = { n: cold.length, p50: percentile(cold, 50), p99: percentile(cold, 99) };
}
await pool.close();

const mbPerS = percentile(passes, 50);
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'tasks',
      when: new Date().toISOString(),
      corpus: { repos: corpus.repos.length, mb: round(bytes / 1e6, 2), instances: counts },
      analysis_mb_per_s: { median: mbPerS, passes },
      generation_ms: generationMs,
      grading_ms: grading,
      grading_cold_ms: gradingCold,
      targets: {
        analysis_ge_5_mb_per_s: mbPerS >= 5,
        grading_p50_le_50ms: Object.values(grading).every((g) => g.p50 <= 50),
      },
    },
    null,
    2,
  )}\n`,
);
