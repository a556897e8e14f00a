/** JSON Lines: one JSON value per line, blank lines ignored. */
import { readFile } from 'node:fs/promises';

export async function readJsonl<T>(path: string): Promise<T[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}
