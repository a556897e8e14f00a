/** JSON Lines: one JSON value per line, blank lines ignored. */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

export async function readJsonl<T>(path: string): Promise<T[]> {
  const text = await readFile(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}

/** A line that could not be read as a record: its 1-based number (as `sed -n Np` counts) and why. */
export interface DamagedLine {
  line: number;
  reason: string;
}

/**
 * The records of a JSONL file, streamed: a log may outgrow the longest string V8 can hold, so
 * it is never read whole. A line that is not JSON, or that `accept` refuses, goes to
 * `onDamaged` and is skipped, so one torn record costs only itself. Lines are split on LF
 * alone, so the numbers match other line tools even where damage left a stray CR.
 */
export async function* readJsonlRecords<T>(path: string, accept: (value: unknown) => value is T, onDamaged: (damaged: DamagedLine) => void): AsyncGenerator<T> {
  let number = 0;
  const parse = (bytes: Buffer): T | undefined => {
    number++;
    const text = bytes.toString('utf8');
    if (!text.trim()) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      onDamaged({ line: number, reason: `not JSON (${(err as Error).message})` });
      return undefined;
    }
    if (accept(value)) return value;
    onDamaged({ line: number, reason: 'not a record of this file' });
    return undefined;
  };
  // A line longer than one chunk arrives in pieces, joined once its newline is seen.
  let pieces: Buffer[] = [];
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      pieces.push(chunk.subarray(start, nl));
      const record = parse(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
      pieces = [];
      if (record !== undefined) yield record;
      start = nl + 1;
    }
    if (start < chunk.length) pieces.push(chunk.subarray(start));
  }
  if (pieces.length > 0) {
    const record = parse(Buffer.concat(pieces));
    if (record !== undefined) yield record;
  }
}
