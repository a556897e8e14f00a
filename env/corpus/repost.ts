/**
 * RepoST-format func_gen instances: a function of a repository and a standalone evaluation
 * script that holds the original function and checks `<name>_new_implementation` against it.
 * Each record is one JSON line:
 *   { "repo": "name", "file"|"func_path": "pkg/mod.py", "qualname"|"func_name": "fn",
 *     "eval_script": "...", "instance_id"?: "...", "timeout_s"?: 120 }
 * The repository is copied (without .git) into the corpus as repos/<name>; the instance's
 * workspace is that snapshot with the function's body replaced by the placeholder.
 */
import { cp, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { FuncGenInstance } from '../../schemas/tasks.js';
import { analyzeModule } from '../analysis/module.js';
import { instanceId, type RepoContext } from '../tasks/context.js';
import { candidateOf, harnessUse, instruction } from '../tasks/func-gen.js';
import { snapshotOf } from './snapshot.js';

export interface RepostRecord {
  repo: string;
  file?: string;
  func_path?: string;
  qualname?: string;
  func_name?: string;
  eval_script?: string;
  instance_id?: string;
  timeout_s?: number;
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** Instances for the records, and why the others were skipped. */
export async function importRepost(
  records: readonly unknown[],
  repoRoots: ReadonlyMap<string, string>,
  corpusDir: string,
): Promise<{ instances: FuncGenInstance[]; skipped: { record: number; reason: string }[] }> {
  const instances: FuncGenInstance[] = [];
  const skipped: { record: number; reason: string }[] = [];
  const contexts = new Map<string, Pick<RepoContext, 'name' | 'ref'> & { root: string }>();
  for (const [index, raw] of records.entries()) {
    const record = raw as RepostRecord;
    const file = record.file ?? record.func_path;
    const qualname = record.qualname ?? record.func_name;
    const skip = (reason: string) => skipped.push({ record: index, reason });
    if (!record || typeof record !== 'object' || typeof record.repo !== 'string' || typeof file !== 'string' || typeof qualname !== 'string' || typeof record.eval_script !== 'string' || !record.eval_script.trim()) {
      skip('a record needs repo, file (or func_path), qualname (or func_name) and eval_script');
      continue;
    }
    const name = basename(record.repo);
    const source = repoRoots.get(record.repo);
    if (!source || !NAME.test(name)) {
      skip(`no --repo given for ${record.repo}`);
      continue;
    }
    if (!contexts.has(record.repo)) {
      const root = join(corpusDir, 'repos', name);
      if (!existsSync(root)) await cp(source, root, { recursive: true, filter: (path) => !/(^|\/)(\.git|__pycache__)(\/|$)/.test(path.slice(source.length)) });
      const snapshot = await snapshotOf(root);
      contexts.set(record.repo, { name, root, ref: { name, snapshot: snapshot.id, license: 'unknown' } });
    }
    const ctx = contexts.get(record.repo)!;
    let text: string;
    try {
      text = await readFile(join(ctx.root, file), 'utf8');
    } catch {
      skip(`${file} is not in ${record.repo}`);
      continue;
    }
    const parsed = analyzeModule(file, text);
    const def = 'error' in parsed ? undefined : parsed.analysis.definitions.find((d) => d.qualname === qualname);
    if (!def || def.kind === 'class') {
      skip(`${qualname} is not a function of ${file}`);
      continue;
    }
    const candidate = candidateOf(def, text, 'optional');
    if (!candidate) {
      skip(`${qualname} has no body to replace`);
      continue;
    }
    if (harnessUse(text, def)) {
      skip(`${qualname} uses a name graders refuse (${harnessUse(text, def)})`);
      continue;
    }
    const id = record.instance_id && NAME.test(record.instance_id) ? `func_gen.repost.${record.instance_id}` : instanceId('func_gen', ctx, ['repost', file, qualname]);
    instances.push({
      instance_id: id,
      task: 'func_gen',
      repo: ctx.ref,
      source: 'repost',
      timeout_s: Number.isInteger(record.timeout_s) && record.timeout_s! > 0 && record.timeout_s! <= 3600 ? record.timeout_s! : 120,
      instruction: instruction(name, def).replace(`The repository's tests will be run against your implementation.`, 'An evaluation script will compare your implementation with the original.'),
      edits: [{ file, start: candidate.start, end: candidate.end, text: candidate.placeholder }],
      gold: { file, qualname, line: def.defLine, body: candidate.body, tests: ['eval_script'], eval_script: record.eval_script },
    });
  }
  return { instances, skipped };
}
