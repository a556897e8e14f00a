/**
 * What the static graders read off a Python file, from one parse: whether Python reads it as
 * its parse shows, its code skeleton, and its definitions. Kept in a bounded cache keyed by
 * the text: the files of a workspace as given recur in every episode of an instance and in
 * many instances of a repository. An episode's reset warms the files its instance is about
 * (`warmFacts`), so that grading after `finish` parses only what the agent changed.
 *
 * A cached value depends on nothing but the text (and the path, for definitions), so what
 * one episode leaves in the cache cannot change another's grade. Values are shared: callers
 * must not change them.
 */
import type { Worker } from 'node:worker_threads';
import { analyzeModule } from '../analysis/module.js';
import { parsePython } from '../analysis/parse.js';
import { readAsPython, type PythonReading } from '../analysis/python-text.js';
import type { Definition } from '../analysis/types.js';
import { codeSkeleton } from './skeleton.js';
import { startModuleWorker } from '../threads.js';

export interface PythonFacts {
  /** Why Python does not read the file as its parse shows; null when it does. */
  distrust: string | null;
  /** The skeleton of the text as Python reads it; null when that does not parse. */
  skeleton: string | null;
  /** Definitions of the text by qualname; empty when it does not parse. */
  definitions: ReadonlyMap<string, Definition>;
  /** The parse took longer than it was given: nothing is known of the text (not cached). */
  timedOut: boolean;
}

interface Entry {
  distrust: string | null;
  skeleton: string | null;
  byPath: Map<string, ReadonlyMap<string, Definition>>;
}

/** Characters of text the cache stands for; skeletons and definitions weigh a few times that. */
const BUDGET_CHARS = 16 * 2 ** 20;
const cache = new Map<string, Entry>();
let cachedChars = 0;

function remember(text: string, entry: Entry): void {
  cache.set(text, entry);
  cachedChars += text.length;
  // Least recently used first: a hit moves its entry to the end.
  for (const [oldest] of cache) {
    if (cachedChars <= BUDGET_CHARS || oldest === text) break;
    cache.delete(oldest);
    cachedChars -= oldest.length;
  }
}

/** `timeoutMicros` bounds a parse the cache cannot spare (see parsePython). */
export function pythonFacts(path: string, text: string, timeoutMicros?: number): PythonFacts {
  let entry = cache.get(text);
  let reading: PythonReading | undefined;
  if (entry) {
    cache.delete(text);
    cache.set(text, entry);
  } else {
    reading = readAsPython(text, timeoutMicros);
    if ('timedOut' in reading.parsed) return { distrust: null, skeleton: null, definitions: new Map(), timedOut: true };
    entry = { distrust: reading.distrust, skeleton: codeSkeleton(reading), byPath: new Map() };
    remember(text, entry);
  }
  let definitions = entry.byPath.get(path);
  if (!definitions) {
    // The parse of the text as Python reads it serves when that is the text itself (no CR, no BOM).
    const parsed = reading && reading.text === text ? reading.parsed : parsePython(text, timeoutMicros);
    if ('timedOut' in parsed) return { distrust: entry.distrust, skeleton: entry.skeleton, definitions: new Map(), timedOut: true };
    definitions = definitionsOf(path, text, parsed);
    entry.byPath.set(path, definitions);
  }
  return { distrust: entry.distrust, skeleton: entry.skeleton, definitions, timedOut: false };
}

function definitionsOf(path: string, text: string, parsed: Exclude<ReturnType<typeof parsePython>, { timedOut: true }>): Map<string, Definition> {
  const result = analyzeModule(path, text, parsed);
  return 'error' in result ? new Map() : new Map(result.analysis.definitions.map((d) => [d.qualname, d]));
}

/** The facts of a text with no deadline and without the cache: what the warming worker computes. */
export function computeFacts(path: string, text: string): WarmedFacts {
  const reading = readAsPython(text);
  if ('timedOut' in reading.parsed) throw new Error('a parse without a deadline timed out');
  const parsed = reading.text === text ? reading.parsed : parsePython(text);
  if ('timedOut' in parsed) throw new Error('a parse without a deadline timed out');
  return { distrust: reading.distrust, skeleton: codeSkeleton(reading), definitions: definitionsOf(path, text, parsed) };
}

interface WarmedFacts {
  distrust: string | null;
  skeleton: string | null;
  definitions: Map<string, Definition>;
}

/** Takes facts computed elsewhere (the warming worker) into the cache, unless it has them already. */
function adopt(path: string, text: string, facts: WarmedFacts): void {
  let entry = cache.get(text);
  if (!entry) {
    entry = { distrust: facts.distrust, skeleton: facts.skeleton, byPath: new Map() };
    remember(text, entry);
  }
  if (!entry.byPath.has(path)) entry.byPath.set(path, facts.definitions);
}

/** Empties the cache: for measuring what grading costs without it. */
export function forgetFacts(): void {
  cache.clear();
  cachedChars = 0;
}

/**
 * Computes the facts of files ahead of grading, on a worker thread: a burst of resets warms
 * many files, and parsing them on the event loop would hold up every other request (measured:
 * seconds of it in a burst of 128). Files already known are skipped; never throws. Resolves
 * when the facts are in the cache, or when warming gave up (the worker failed, or too much is
 * queued: grading then parses what it needs).
 */
export async function warmFacts(files: Iterable<string>, read: (path: string) => Promise<string | null>): Promise<void> {
  const pending: Promise<void>[] = [];
  for (const path of new Set(files)) {
    if (!path.endsWith('.py')) continue;
    try {
      const text = await read(path);
      if (text === null || cache.get(text)?.byPath.has(path)) continue;
      pending.push(
        onWorker(path, text).then((facts) => {
          if (facts) adopt(path, text, facts);
        }),
      );
    } catch {
      // Only a warm-up: grading reads the file again and reports what goes wrong.
    }
  }
  await Promise.all(pending);
}

/** Texts at most waiting for the worker at once; past it, warming is skipped. */
const MAX_QUEUED = 512;
let worker: { thread: Worker; waiting: Map<number, (facts: WarmedFacts | null) => void> } | null = null;
let queued = 0;
let nextId = 0;

/** The facts of `text`, computed on the worker; null when the worker could not. */
function onWorker(path: string, text: string): Promise<WarmedFacts | null> {
  if (queued >= MAX_QUEUED) return Promise.resolve(null);
  const w = (worker ??= startWorker());
  const id = nextId++;
  return new Promise((resolve) => {
    w.waiting.set(id, resolve);
    queued++;
    w.thread.ref();
    w.thread.postMessage({ id, path, text });
  });
}

function startWorker(): NonNullable<typeof worker> {
  const thread = startModuleWorker(import.meta.url, 'facts-worker');
  const w = { thread, waiting: new Map<number, (facts: WarmedFacts | null) => void>() };
  const settle = (id: number, facts: WarmedFacts | null) => {
    const resolve = w.waiting.get(id);
    if (!resolve) return;
    w.waiting.delete(id);
    queued--;
    resolve(facts);
    // Idle, it does not keep the process alive.
    if (w.waiting.size === 0) thread.unref();
  };
  thread.on('message', (m: { id: number; facts?: WarmedFacts }) => settle(m.id, m.facts ?? null));
  const drop = () => {
    // A broken worker is dropped, and what it was given is not warmed; the next warming starts another.
    if (worker === w) worker = null;
    for (const id of [...w.waiting.keys()]) settle(id, null);
  };
  thread.on('error', drop);
  thread.on('exit', drop);
  thread.unref();
  return w;
}
