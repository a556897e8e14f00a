/** A corpus as the server serves it: every `*.jsonl` task file under its `tasks/` folder. */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TaskInstance } from '../../schemas/tasks.js';
import { assertValid, readInstances } from '../tasks/generate.js';

export interface Corpus {
  dir: string;
  instances: Map<string, TaskInstance>;
  /** Instance ids per family, in file order (what a seed indexes into). */
  families: Map<string, string[]>;
}

export async function loadCorpus(dir: string): Promise<Corpus> {
  const tasksDir = join(dir, 'tasks');
  const instances = new Map<string, TaskInstance>();
  const families = new Map<string, string[]>();
  const files = existsSync(tasksDir) ? (await readdir(tasksDir)).filter((f) => f.endsWith('.jsonl')).sort() : [];
  for (const file of files) {
    for (const instance of await readInstances(join(tasksDir, file))) {
      assertValid(instance);
      instances.set(instance.instance_id, instance);
      families.set(instance.task, [...(families.get(instance.task) ?? []), instance.instance_id]);
    }
  }
  return { dir, instances, families };
}
