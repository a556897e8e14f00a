/** JSON Lines: one JSON value per line, blank lines ignored. */
import { createReadStream } from 'node:fs';
import { open, readFile } from 'node:fs/promises';

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

/** A line of a file and the byte offset it starts at. */
export interface LineAt {
  offset: number;
  bytes: Buffer;
}

/**
 * The lines of a file, last first, streamed from its end (or from `end`, a byte offset just
 * after a newline): the newest records of an append-only log are read without reading the rest.
 * Blank lines are skipped; a line longer than one chunk is joined from its pieces. Only the
 * bytes present when reading starts are read, so a record being appended meanwhile is not
 * met half written.
 */
export async function* readLinesBackward(path: string, end?: number, chunkSize = 64 * 1024): AsyncGenerator<LineAt> {
  const fh = await open(path, 'r');
  try {
    let position = Math.min(end ?? Infinity, (await fh.stat()).size);
    // The pieces of the line being read that came from later chunks, last piece first.
    let later: Buffer[] = [];
    const line = (offset: number, piece: Buffer): LineAt | null => {
      const bytes = later.length === 0 ? piece : Buffer.concat([piece, ...later.reverse()]);
      later = [];
      return bytes.some((b) => b !== 32 && b !== 9 && b !== 13 && b !== 10) ? { offset, bytes } : null;
    };
    while (position > 0) {
      const start = Math.max(0, position - chunkSize);
      const chunk = Buffer.alloc(position - start);
      let filled = 0;
      while (filled < chunk.length) {
        const { bytesRead } = await fh.read(chunk, filled, chunk.length - filled, start + filled);
        if (bytesRead === 0) throw new Error(`${path} shrank while it was read`);
        filled += bytesRead;
      }
      position = start;
      let lineEnd = chunk.length;
      // lastIndexOf counts a negative offset from the end, so the search stops at the chunk's first byte.
      for (let nl = lineEnd > 0 ? chunk.lastIndexOf(10, lineEnd - 1) : -1; nl !== -1; nl = nl > 0 ? chunk.lastIndexOf(10, nl - 1) : -1) {
        const found = line(start + nl + 1, chunk.subarray(nl + 1, lineEnd));
        if (found) yield found;
        lineEnd = nl;
      }
      later.push(chunk.subarray(0, lineEnd));
    }
    const first = line(0, Buffer.alloc(0));
    if (first) yield first;
  } finally {
    await fh.close();
  }
}
