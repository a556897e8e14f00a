/** `hgym import-swe`: SWE-bench / SWE-Gym JSONL records as issue_localize instances of a corpus. */
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readJsonl } from '../env/jsonl.js';
import { resolveRepo } from '../env/corpus/source.js';
import { importSwe } from '../env/corpus/swe.js';
import { assertValid, readInstances } from '../env/tasks/generate.js';

export const IMPORT_USAGE = 'usage: hgym import-swe --jsonl FILE --repo owner/name=PATH|URL [--repo ...] [--corpus DIR]';

export async function importSweCommand(argv: string[], defaultCorpus: string, print: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { jsonl: { type: 'string' }, repo: { type: 'string', multiple: true }, corpus: { type: 'string', default: defaultCorpus } },
    strict: true,
  });
  const mapping = new Map<string, string>();
  for (const spec of values.repo ?? []) {
    const eq = spec.indexOf('=');
    if (eq <= 0) {
      process.stderr.write(`hgym: --repo takes owner/name=PATH|URL, not ${JSON.stringify(spec)}\n${IMPORT_USAGE}\n`);
      return 2;
    }
    mapping.set(spec.slice(0, eq), spec.slice(eq + 1));
  }
  if (!values.jsonl || mapping.size === 0) {
    process.stderr.write(`${IMPORT_USAGE}\n`);
    return 2;
  }
  const records = await readJsonl<unknown>(values.jsonl);
  const cache = join(homedir(), '.cache', 'hgym');
  const gitDirOf = async (repo: string): Promise<string | null> => {
    const where = mapping.get(repo);
    if (!where) return null;
    if (existsSync(join(where, '.git'))) return resolve(where);
    return (await resolveRepo(where, cache)).root;
  };
  const { instances, skipped } = await importSwe(records, gitDirOf, values.corpus);
  for (const i of instances) assertValid(i);
  const file = join(values.corpus, 'tasks', 'issue_localize.jsonl');
  const merged = new Map((existsSync(file) ? await readInstances(file) : []).map((i) => [i.instance_id, i]));
  for (const i of instances) merged.set(i.instance_id, i);
  await mkdir(join(values.corpus, 'tasks'), { recursive: true });
  await writeFile(file, [...merged.values()].map((i) => `${JSON.stringify(i)}\n`).join(''));
  print(`${JSON.stringify({ imported: instances.length, skipped, file, total: merged.size }, null, 2)}\n`);
  return 0;
}
