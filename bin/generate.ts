/** `hgym generate`: task instances from a local repository or a git URL at a revision. */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { homedir } from 'node:os';
import { resolveRepo } from '../env/corpus/source.js';
import { addSnapshot, corpusCache } from '../env/corpus/store.js';
import { EXECUTED_FAMILIES, FAMILIES, generateForRepo, writeInstances, type Family } from '../env/tasks/generate.js';
import { DEFAULT_IMAGE, DockerSandboxPool } from '../docker/pool.js';
import { listImageFiles } from '../docker/image-files.js';
import { describeCollisions, type ImageFiles } from '../env/corpus/image.js';
import { environmentFor, pins, writeEnvironmentRecord, type EnvironmentTools } from '../env/corpus/environment.js';
import { environmentTools } from '../docker/environment-image.js';
import { isHgymError } from '../env/errors.js';
import type { TaskInstance } from '../schemas/tasks.js';
import { modelDescriber } from '../env/tasks/llm.js';
import { progressBar } from './progress.js';

export const GENERATE_USAGE = `usage: hgym generate --repo <path|url[@rev]> [--repo ...]
                     [--tasks func_localize,dep_search,issue_localize,func_gen]
                     [--corpus DIR] [--out DIR] [--seed N] [--max-per-repo N]
--corpus adds each repository's snapshot and its instances to a corpus that hgym serve --corpus
serves (a snapshot already there is left as it is); --out writes JSONL task files only (the
default, into ./tasks, when --corpus is not given).
issue_localize (injected bugs) and func_gen run the repository's tests in sandboxes; without a
Docker engine they are skipped and the others generated.`;

export async function generate(argv: string[], print: (text: string) => void = (text) => process.stdout.write(text)): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      repo: { type: 'string', multiple: true },
      tasks: { type: 'string' },
      out: { type: 'string' },
      corpus: { type: 'string' },
      seed: { type: 'string', default: '0' },
      'max-per-repo': { type: 'string', default: '150' },
    },
    strict: true,
  });
  const repos = values.repo ?? [];
  const tasks = (values.tasks ?? FAMILIES.join(',')).split(',').map((t) => t.trim());
  const unknown = tasks.filter((t) => !(FAMILIES as readonly string[]).includes(t));
  const seed = Number(values.seed);
  const maxPerRepo = Number(values['max-per-repo']);
  if (repos.length === 0 || unknown.length > 0 || !Number.isInteger(seed) || !Number.isInteger(maxPerRepo) || maxPerRepo < 1) {
    process.stderr.write(`${unknown.length ? `hgym: unknown task family ${unknown.join(', ')}\n` : ''}${GENERATE_USAGE}\n`);
    return 2;
  }
  const describe = modelDescriber(process.env);
  const started = performance.now();
  const notes: string[] = [];
  let pool: DockerSandboxPool | null = null;
  if (tasks.some((t) => (EXECUTED_FAMILIES as readonly string[]).includes(t))) {
    try {
      pool = await DockerSandboxPool.start({ warm: 0, max: 2 });
    } catch (error) {
      if (!isHgymError(error)) throw error;
      notes.push(`issue_localize and func_gen skipped: ${error.message}`);
    }
  }
  const cache = join(homedir(), '.cache', 'hgym');
  // Repositories whose tests need packages get an environment: only where tests are run.
  // Every family's episodes run in it (the agent runs the tests too), so it is made whenever
  // Docker answers, whichever families are asked for.
  let environments: EnvironmentTools | undefined;
  try {
    environments = await environmentTools(DEFAULT_IMAGE, join(cache, 'images'));
  } catch (error) {
    if (!isHgymError(error)) throw error;
    notes.push(`no repository environments (their packages are not installed for tests): ${error.message}`);
  }
  let image: ImageFiles | undefined;
  try {
    image = await listImageFiles(DEFAULT_IMAGE, { cacheDir: join(cache, 'images') });
  } catch (error) {
    if (!isHgymError(error)) throw error;
    notes.push(`not checked against the sandbox image (setup checks the corpus it serves): ${error.message}`);
  }
  const leftOut: { repo: string; files: number; example: string }[] = [];
  try {
    const all: TaskInstance[] = [];
    let files = 0;
    let skipped = 0;
    let bytes = 0;
    let analysisMs = 0;
    const corpusDirs: { repo: string; dir: string; added: boolean; instances: number }[] = [];
    for (const arg of repos) {
      const source = await resolveRepo(arg, cache);
      const bar = progressBar(`analysing ${source.name}`);
      const running = progressBar(`running ${source.name}'s tests`);
      const caches = values.corpus ? corpusCache(values.corpus) : { workspaces: join(cache, 'workspaces'), runs: join(cache, 'runs') };
      const execution = pool
        ? { pool, cacheDir: caches.workspaces, runsDir: caches.runs, onProgress: (e: { phase: string; done: number; total: number }) => running.update(e.done, e.total, e.phase) }
        : undefined;
      const origin = source.url && source.commit ? { url: source.url, commit: source.commit } : undefined;
      const made = environments ? await environmentFor(source.root, environments, join(cache, 'environments')) : undefined;
      if (made && 'record' in made) {
        const { record } = made;
        const how = record.buildMs > 0 ? `built in ${((record.resolveMs + record.buildMs) / 1000).toFixed(1)} s` : 'already built';
        process.stderr.write(`hgym: ${source.name}: environment ${record.image}, ${record.resolved.length} package(s), ${how}\n`);
      } else if (made) process.stderr.write(`hgym: ${source.name}: no environment: ${made.error}\n`);
      if (made && 'record' in made && values.corpus) await writeEnvironmentRecord(values.corpus, made.record);
      const environment = made && 'record' in made ? made.record.id : undefined;
      const run = async (root: string, dir?: string) => {
        const generated = await generateForRepo(
          { root, name: source.name, ...(dir ? { dir } : {}), ...(origin ? { origin } : {}), ...(environment ? { environment } : {}) },
          {
            tasks: tasks as Family[],
            seed,
            maxPerRepo,
            ...(describe ? { describe } : {}),
            ...(execution ? { execution } : {}),
            ...(made && 'error' in made ? { environmentError: made.error } : {}),
            ...(image ? { image } : {}),
            onProgress: (e) => bar.update(e.files, e.total, `${(e.bytes / 1e6).toFixed(1)} MB`),
          },
        );
        if (made) generated.summary.environment = 'error' in made ? { error: made.error } : { id: made.record.id, image: made.record.image, resolved: pins(made.record.resolved) };
        return generated;
      };
      let generated: Awaited<ReturnType<typeof run>>;
      if (values.corpus) {
        const added = await addSnapshot(values.corpus, source, run);
        corpusDirs.push({ repo: source.name, dir: added.dir, added: added.added, instances: added.instances.length });
        generated = { instances: added.instances, summary: added.summary };
      } else {
        generated = await run(source.root);
      }
      const { instances, summary } = generated;
      bar.stop();
      running.stop();
      for (const [family, why] of Object.entries(summary.notes ?? {})) if (pool || !EXECUTED_FAMILIES.includes(family as Family)) notes.push(`${source.name}: no ${family}: ${why}`);
      const collisions = summary.imageCollisions ?? [];
      if (image && collisions.length > 0) {
        notes.push(`${source.name}: left out, no instances: ${describeCollisions(collisions, image)}`);
        leftOut.push({ repo: source.name, files: collisions.length, example: `${collisions[0]!.file} = ${collisions[0]!.imagePath}` });
      }
      all.push(...instances);
      files += summary.files;
      skipped += summary.skipped.length;
      bytes += summary.bytes;
      analysisMs += summary.analysisMs;
      for (const s of summary.skipped) process.stderr.write(`  skipped ${source.name}/${s.file}: ${s.reason}\n`);
    }
    const out = values.out ?? (values.corpus ? undefined : 'tasks');
    const paths = out ? await writeInstances(out, all, tasks as Family[]) : undefined;
    const seconds = (performance.now() - started) / 1000;
    const counts = Object.fromEntries(tasks.map((t) => [t, all.filter((i) => i.task === t).length]));
    print(
      `${JSON.stringify(
        {
          repos: repos.length,
          files_parsed: files - skipped,
          files_skipped: skipped,
          instances: counts,
          ...(paths ? { out: paths } : {}),
          ...(values.corpus ? { corpus: { dir: values.corpus, repos: corpusDirs } } : {}),
          seconds: Math.round(seconds * 10) / 10,
          analysis_mb_per_s: Math.round((bytes / 1e6 / (analysisMs / 1000)) * 100) / 100,
          ...(leftOut.length ? { left_out: leftOut } : {}),
          ...(notes.length ? { notes } : {}),
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  } finally {
    await pool?.close();
  }
}
