/**
 * `hgym import-swe` (SWE-bench / SWE-Gym JSONL records) and `hgym mine` (fix commits of a
 * repository's history): issue_localize instances added to a corpus.
 */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readJsonl } from '../env/jsonl.js';
import { resolveRepo } from '../env/corpus/source.js';
import { importSwe } from '../env/corpus/swe.js';
import { mineFixCommits } from '../env/corpus/mine.js';
import type { TaskInstance } from '../schemas/tasks.js';
import { importRepost } from '../env/corpus/repost.js';
import { assertValid, readInstances } from '../env/tasks/generate.js';

/**
 * The options both importers take: --jsonl FILE, --repo NAME=WHERE (repeated, each WHERE
 * accepted by `accept`) and --corpus DIR; or the exit status after printing the usage.
 */
function importArgs(argv: string[], defaultCorpus: string, usage: string, accept: (where: string) => boolean) {
  const { values } = parseArgs({
    args: argv,
    options: { jsonl: { type: 'string' }, repo: { type: 'string', multiple: true }, corpus: { type: 'string', default: defaultCorpus } },
    strict: true,
  });
  const repos = new Map<string, string>();
  for (const spec of values.repo ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0 || !accept(spec.slice(eq + 1))) {
      process.stderr.write(`hgym: --repo takes NAME=PATH|URL of a repository, not ${JSON.stringify(spec)}\n${usage}\n`);
      return 2;
    }
    repos.set(spec.slice(0, eq), spec.slice(eq + 1));
  }
  if (!values.jsonl || repos.size === 0) {
    process.stderr.write(`${usage}\n`);
    return 2;
  }
  return { values: { ...values, jsonl: values.jsonl }, repos };
}

export const IMPORT_USAGE = 'usage: hgym import-swe --jsonl FILE --repo owner/name=PATH|URL [--repo ...] [--corpus DIR]';

export async function importSweCommand(argv: string[], defaultCorpus: string, print: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const parsed = importArgs(argv, defaultCorpus, IMPORT_USAGE, () => true);
  if (typeof parsed === 'number') return parsed;
  const { values, repos: mapping } = parsed;
  const records = await readJsonl<unknown>(values.jsonl);
  const cache = join(homedir(), '.cache', 'hgym');
  const gitDirOf = async (repo: string): Promise<string | null> => {
    const where = mapping.get(repo);
    if (!where) return null;
    if (existsSync(join(where, '.git'))) return resolve(where);
    return (await resolveRepo(where, cache)).root;
  };
  const { instances, skipped } = await importSwe(records, gitDirOf, values.corpus);
  print(`${JSON.stringify({ imported: instances.length, skipped, ...(await addToCorpus(values.corpus, instances)) }, null, 2)}\n`);
  return 0;
}

/**
 * Adds instances to the corpus's <family>.added.jsonl (apart from the generated
 * <family>.jsonl, which setup rewrites); an instance already there is replaced.
 */
async function addToCorpus(corpus: string, instances: readonly TaskInstance[], family: TaskInstance['task'] = 'issue_localize'): Promise<{ file: string; total: number }> {
  for (const i of instances) assertValid(i);
  const file = join(corpus, 'tasks', `${family}.added.jsonl`);
  const merged = new Map((existsSync(file) ? await readInstances(file) : []).map((i) => [i.instance_id, i]));
  for (const i of instances) merged.set(i.instance_id, i);
  await mkdir(join(corpus, 'tasks'), { recursive: true });
  await writeFile(file, [...merged.values()].map((i) => `${JSON.stringify(i)}\n`).join(''));
  return { file, total: merged.size };
}

export const REPOST_USAGE = 'usage: hgym import-repost --jsonl FILE --repo name=PATH [--repo ...] [--corpus DIR]';

/** RepoST-format records as func_gen instances of the corpus (func_gen.added.jsonl). */
export async function importRepostCommand(argv: string[], defaultCorpus: string, print: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const parsed = importArgs(argv, defaultCorpus, REPOST_USAGE, existsSync);
  if (typeof parsed === 'number') return parsed;
  const { values } = parsed;
  const roots = new Map([...parsed.repos].map(([name, path]) => [name, resolve(path)]));
  const { instances, skipped } = await importRepost(await readJsonl<unknown>(values.jsonl), roots, values.corpus);
  print(`${JSON.stringify({ imported: instances.length, skipped, ...(await addToCorpus(values.corpus, instances, 'func_gen')) }, null, 2)}\n`);
  return 0;
}

export const MINE_USAGE = 'usage: hgym mine --repo PATH|URL[@rev] [--name owner/name] [--max-files 3] [--max-commits 2000] [--corpus DIR]';

export async function mineCommand(argv: string[], defaultCorpus: string, print: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      repo: { type: 'string' },
      name: { type: 'string' },
      'max-files': { type: 'string', default: '3' },
      'max-commits': { type: 'string', default: '2000' },
      corpus: { type: 'string', default: defaultCorpus },
    },
    strict: true,
  });
  const maxFiles = Number(values['max-files']);
  const maxCommits = Number(values['max-commits']);
  if (!values.repo || !Number.isInteger(maxFiles) || maxFiles < 1 || !Number.isInteger(maxCommits) || maxCommits < 1) {
    process.stderr.write(`${MINE_USAGE}\n`);
    return 2;
  }
  const gitDir = existsSync(join(values.repo, '.git')) ? resolve(values.repo) : (await resolveRepo(values.repo, join(homedir(), '.cache', 'hgym'))).root;
  const name = values.name ?? basename(gitDir.replace(/\/+$/, ''));
  const records = await mineFixCommits(gitDir, name, { maxFiles, maxCommits });
  const { instances, skipped } = await importSwe(records, async () => gitDir, values.corpus, 'mined');
  print(`${JSON.stringify({ commits: records.length, mined: instances.length, skipped, ...(await addToCorpus(values.corpus, instances)) }, null, 2)}\n`);
  return 0;
}
