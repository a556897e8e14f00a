/**
 * A corpus directory made from the `shapes` fixture repository, laid out like the default
 * corpus (repos/<name> beside tasks/<family>.jsonl), in a test's own directory.
 */
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import { loadCorpus, type Corpus } from '../../env/corpus/load.js';
import { FAMILIES, generateForRepo, writeInstances } from '../../env/tasks/generate.js';
import type { TaskInstance } from '../../schemas/tasks.js';

export const SHAPES = join(import.meta.dirname, '..', 'fixtures', 'tasks', 'shapes');

export async function fixtureCorpus(t: Test): Promise<{ corpus: Corpus; instances: TaskInstance[]; dir: string; cacheDir: string }> {
  const root = t.testdir({ corpus: { repos: {} }, cache: {} });
  const dir = join(root, 'corpus');
  const { instances } = await generateForRepo({ root: SHAPES, name: 'shapes' }, { seed: 1 });
  await writeInstances(join(dir, 'tasks'), instances, FAMILIES);
  symlinkSync(SHAPES, join(dir, 'repos', 'shapes'));
  return { corpus: await loadCorpus(dir), instances, dir, cacheDir: join(root, 'cache') };
}
