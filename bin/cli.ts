/**
 * `hgym <command>`: setup (Docker engine, sandbox image, default corpus), generate (task
 * instances from repositories) and demo (a few tool calls in a real sandbox).
 */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDefaultCorpus } from '../env/corpus/default.js';
import { modelDescriber } from '../env/tasks/llm.js';
import { generate, GENERATE_USAGE } from './generate.js';
import { progressBar } from './progress.js';
import { serve } from './serve.js';
import { exportCommand } from './export.js';
import { importRepostCommand, importSweCommand, mineCommand } from './issues.js';
import { DEFAULT_IMAGE, DockerSandboxPool } from '../docker/pool.js';
import { listImageFiles } from '../docker/image-files.js';
import { assertCorpusClear } from '../env/corpus/image.js';
import { loadCorpus } from '../env/corpus/load.js';
import { EnvironmentError, ensureEnvironment, environmentImage, readEnvironmentRecord } from '../env/corpus/environment.js';
import { environmentBuilder, environmentExists, environmentLabelled, environmentTools, imagePython } from '../docker/environment-image.js';
import { ToolBox } from '../env/tools/toolbox.js';
import { hgymError, isHgymError } from '../env/errors.js';

const USAGE = `usage: hgym <command>

commands:
  setup      make sure a Docker engine answers, the sandbox image is built and the
             default corpus is generated (HGYM_CORPUS_DIR, default .hgym/corpus)
  serve      run setup, then serve the HTTP API on the default corpus, or on --corpus DIR
             (checked against the image, not rebuilt)
             (hgym serve [--host] [--port 8000] [--corpus DIR] [--pool N] [--max-episodes N])
  generate   write task instances for repositories (hgym generate --help)
  import-swe SWE-bench / SWE-Gym JSONL as issue_localize instances of the corpus
             (hgym import-swe --jsonl FILE --repo owner/name=PATH|URL [--corpus DIR])
  import-repost RepoST-format JSONL (an evaluation script per function) as func_gen instances
             (hgym import-repost --jsonl FILE --repo name=PATH [--corpus DIR])
  mine       fix commits of a repository's history as issue_localize instances
             (hgym mine --repo PATH|URL [--name owner/name] [--max-files 3] [--corpus DIR])
  export     ended episodes as chat-format SFT JSONL
             (hgym export --min-reward R [--task T] --out FILE [--from FILE])
  demo       run setup, then a short scripted episode of tool calls in a sandbox
  help       show this text
`;

function packageRoot(): string {
  // This file runs from dist/bin/ (installed) or bin/ (tsx); the root holds docker/.
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.replace(/\/(dist\/)?bin\/?$/, '');
}

/** The value of `--name VALUE` or `--name=VALUE` in argv, if given. */
function optionValue(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === `--${name}`) return argv[i + 1];
    if (argv[i]!.startsWith(`--${name}=`)) return argv[i]!.slice(name.length + 3);
  }
  return undefined;
}

export function corpusDir(): string {
  return process.env.HGYM_CORPUS_DIR ?? join(packageRoot(), '.hgym', 'corpus');
}

/**
 * Every environment a corpus's instances run in, built again from its record (the pins pip
 * resolved) when its image is missing or was built FROM an older sandbox image. Returns how
 * many environments the corpus uses.
 */
async function ensureCorpusEnvironments(dir: string): Promise<number> {
  const corpus = await loadCorpus(dir);
  const ids = new Set([...corpus.instances.values()].flatMap((i) => (i.repo.environment ? [i.repo.environment] : [])));
  if (ids.size === 0) return 0;
  const target = await imagePython(DEFAULT_IMAGE);
  for (const id of ids) {
    const record = await readEnvironmentRecord(dir, id).catch(() => null);
    if (!record) {
      // Task files written with --out name environments the corpus has no record of: their
      // images can be used while they are there, not built again.
      if (await environmentLabelled(environmentImage(id), id)) continue;
      throw hgymError('HGYM_ERR_IMAGE_MISSING', `${environmentImage(id)} (${dir} has no record of it in environments/${id}.json: add its repositories again with hgym generate --corpus)`);
    }
    process.stderr.write(`hgym setup: environment ${record.image} (${record.resolved.length} packages)\n`);
    try {
      await ensureEnvironment(record, { base: target.imageId, target, workRoot: join(dir, 'cache', 'environments'), build: environmentBuilder(), exists: environmentExists() });
    } catch (error) {
      if (error instanceof EnvironmentError) throw hgymError('HGYM_ERR_IMAGE_MISSING', `${record.image} (building it again failed: ${error.message})`);
      throw error;
    }
  }
  return ids.size;
}

/**
 * The Docker engine and the sandbox image, then the corpus to serve: the default one, built
 * when missing or out of date, or `served` (a corpus `generate --corpus` made), which is only
 * checked. Either way nothing it serves may be in the image.
 */
export async function setup(served?: string): Promise<number> {
  const script = `${packageRoot()}/docker/setup.sh`;
  const r = spawnSync('bash', [script], { stdio: 'inherit' });
  if (r.status !== 0) return r.status ?? 1;
  if (served !== undefined && resolve(served) !== resolve(corpusDir())) {
    const images = join(served, 'cache', 'images');
    const image = await listImageFiles(DEFAULT_IMAGE, { cacheDir: images });
    const environments = await ensureCorpusEnvironments(served);
    await assertCorpusClear(served, image, (env) => listImageFiles(env, { cacheDir: images }));
    const also = environments > 0 ? ` or its ${environments} environment image(s)` : '';
    process.stderr.write(`hgym setup: no file the corpus at ${served} serves is in ${image.image}${also}\n`);
    return 0;
  }
  const fetching = progressBar('fetching libraries');
  const analysing = progressBar('generating tasks');
  const running = progressBar('running tests');
  const describe = modelDescriber(process.env);
  // The executed families run each library's tests in sandboxes: once, then from the cache.
  const pool = await DockerSandboxPool.start({ warm: 0, max: 2 });
  const images = join(corpusDir(), 'cache', 'images');
  let summary;
  let image;
  try {
    image = await listImageFiles(pool.image, { cacheDir: images });
    summary = await buildDefaultCorpus(corpusDir(), {
      image,
      environments: await environmentTools(pool.image, images),
      onFetch: (done, total, name) => fetching.update(done, total, name),
      onProgress: (e) => analysing.update(e.files, e.total, e.repo),
      execution: { pool, workers: 2, onProgress: (e) => running.update(e.done, e.total, `${e.repo} ${e.phase === 'trace' ? 'traced run' : 'trials'}`) },
      ...(describe ? { describe } : {}),
    });
  } finally {
    fetching.stop();
    analysing.stop();
    running.stop();
    await pool.close();
  }
  for (const { repo, why } of summary.left_out ?? []) process.stderr.write(`hgym setup: left out ${repo}: ${why}\n`);
  const counts = Object.entries(summary.instances).map(([k, v]) => `${v} ${k}`).join(', ');
  process.stderr.write(`hgym setup: default corpus at ${corpusDir()}: ${counts}${summary.reused ? ' (up to date)' : ` (built in ${(summary.ms / 1000).toFixed(1)} s)`}\n`);
  // A reused corpus's environment images may be gone or built FROM an older sandbox image.
  const environments = await ensureCorpusEnvironments(corpusDir());
  // The last word: whatever built the corpus, nothing it serves may be in the images it runs in.
  await assertCorpusClear(corpusDir(), image, (env) => listImageFiles(env, { cacheDir: images }));
  const also = environments > 0 ? ` or its ${environments} environment image(s)` : '';
  process.stderr.write(`hgym setup: no file the corpus serves is in ${image.image}${also}\n`);
  return 0;
}

const DEMO_ACTIONS = [
  { tool: 'execute_bash', arguments: { command: 'mkdir -p /workspace/demo && cd /workspace/demo && export GREETING=hello && pwd' } },
  { tool: 'str_replace_editor', arguments: { command: 'create', path: '/workspace/demo/greet.py', file_text: 'def greet(name):\n    return "hi " + name\n\nprint(greet("world"))\n' } },
  { tool: 'str_replace_editor', arguments: { command: 'str_replace', path: '/workspace/demo/greet.py', old_str: '"hi " + name', new_str: 'f"{__import__(\'os\').environ[\'GREETING\']} {name}"' } },
  { tool: 'execute_bash', arguments: { command: 'python3 greet.py' } },
  { tool: 'str_replace_editor', arguments: { command: 'view', path: '/workspace/demo' } },
  { tool: 'execute_bash', arguments: { command: 'sleep 30', timeout: 1 } },
  { tool: 'think', arguments: { thought: 'The greeting works; time to finish.' } },
  { tool: 'finish', arguments: { message: 'done' } },
];

export async function demo(): Promise<number> {
  const status = await setup();
  if (status !== 0) return status;
  const pool = await DockerSandboxPool.start({ warm: 1, max: 2 });
  try {
    const started = performance.now();
    const sandbox = await pool.acquire();
    console.log(`sandbox ${sandbox.id.slice(0, 12)} leased in ${(performance.now() - started).toFixed(1)} ms`);
    const tools = new ToolBox(sandbox, { bash: { timeoutMs: 30_000 } });
    for (const action of DEMO_ACTIONS) {
      const t0 = performance.now();
      const obs = await tools.run(action);
      console.log(`\n>>> ${JSON.stringify(action)}\n${obs.text}\n(${(performance.now() - t0).toFixed(1)} ms)`);
      if (obs.finished) break;
    }
    await sandbox.release();
    return 0;
  } finally {
    await pool.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  try {
    switch (command) {
      case 'setup':
        return await setup();
      case 'serve': {
        const status = await setup(optionValue(argv, 'corpus'));
        return status === 0 ? await serve(argv.slice(1), corpusDir()) : status;
      }
      case 'import-repost':
        return await importRepostCommand(argv.slice(1), corpusDir());
      case 'import-swe':
        return await importSweCommand(argv.slice(1), corpusDir());
      case 'mine':
        return await mineCommand(argv.slice(1), corpusDir());
      case 'export':
        return await exportCommand(argv.slice(1), join(corpusDir(), 'trajectories', 'trajectories.jsonl'));
      case 'generate':
        if (argv.includes('--help') || argv.includes('-h')) {
          process.stdout.write(`${GENERATE_USAGE}\n`);
          return 0;
        }
        return await generate(argv.slice(1));
      case 'demo':
        return await demo();
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`hgym: unknown command ${JSON.stringify(command)}\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (isHgymError(err)) {
      process.stderr.write(`hgym: ${err.code}: ${err.message}\n`);
      return 1;
    }
    if (String((err as { code?: string }).code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`hgym: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
}
