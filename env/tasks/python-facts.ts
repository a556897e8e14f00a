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
import { analyzeModule } from '../analysis/module.js';
import { parsePython, type ParseResult } from '../analysis/parse.js';
import { pythonDistrust, pythonText, readAsPython, type PythonReading } from '../analysis/python-text.js';
import type { Definition } from '../analysis/types.js';
import { factsOnThread, IDLE_MS } from './facts-thread.js';
import { codeSkeleton } from './skeleton.js';

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
    definitions = definitionsIn(entry, path, text, parsed);
  }
  return { distrust: entry.distrust, skeleton: entry.skeleton, definitions, timedOut: false };
}

/** The definitions of `text` at `path` from its parse, kept in its entry. */
function definitionsIn(entry: Entry, path: string, text: string, parsed: ParseResult): ReadonlyMap<string, Definition> {
  const result = analyzeModule(path, text, parsed);
  const definitions = 'error' in result ? new Map<string, Definition>() : new Map(result.analysis.definitions.map((d) => [d.qualname, d]));
  entry.byPath.set(path, definitions);
  return definitions;
}

/** Empties the cache: for measuring what grading costs without it. */
export function forgetFacts(): void {
  cache.clear();
  cachedChars = 0;
}

/** Milliseconds in which no warming was asked before any is done: a burst of resets goes first. */
export const WARM_QUIET_MS = 500;
/**
 * The share of one CPU warming takes at most: after each file, it waits three times as long as
 * the file took (in wall time, which grows as the machine gets busier). The thread's nice 19
 * ranks it below the server's own event loop only: Linux schedules a process's threads as one
 * group against other processes (an autogroup per session, or the service's cgroup), so beside
 * the sandboxes and the engine the thread had weighed as much as the whole server (measured:
 * 6.5 CPU-seconds in the 9 s after 64 resets, the server's steps twice as slow meanwhile).
 */
export const WARM_CPU_SHARE = 0.25;
/** The longest wait between two files: shorter than the thread's end when idle (facts-thread.ts), which a restart would cost. */
const WARM_REST_MAX_MS = IDLE_MS * 0.75;
/** Files waiting to be warmed at most; past it, a file is not warmed (grading parses it then). */
const MAX_WARM_QUEUED = 4096;
const warmQueue: { path: string; read: (path: string) => Promise<string | null>; done: () => void }[] = [];
let lastAsked = 0;
let warmTimer: NodeJS.Timeout | undefined;
let warming = false;

/**
 * Computes the facts of files ahead of grading; resolves once they are in the cache (or could
 * not be had); never throws. Warming waits until none has been asked for WARM_QUIET_MS, then
 * parses one file at a time on the low-priority thread, at most WARM_CPU_SHARE of a CPU: a
 * batch of resets all asking at once would otherwise spend seconds of CPU parsing while their
 * sandboxes wait for it (measured: 2 s in
 * the first seconds of a burst of 128), for grading that comes a minute later. `now` warms at
 * once instead, past the queue: grading does, so that the files as given are parsed before, and
 * never within, its time for the agent's files (CHECK_MS), whenever the episode finishes.
 */
export async function warmFacts(files: Iterable<string>, read: (path: string) => Promise<string | null>, when: 'quiet' | 'now' = 'quiet'): Promise<void> {
  const asked = [...new Set(files)].filter((path) => path.endsWith('.py'));
  if (when === 'now') {
    for (const path of asked) await warmOne(path, read, 'here');
    return;
  }
  lastAsked = Date.now();
  const done = asked.map(
    (path) =>
      new Promise<void>((resolve) => {
        if (warmQueue.length >= MAX_WARM_QUEUED) resolve();
        else warmQueue.push({ path, read, done: resolve });
      }),
  );
  warmIn(WARM_QUIET_MS);
  await Promise.all(done);
}

function warmIn(ms: number): void {
  clearTimeout(warmTimer);
  warmTimer = setTimeout(() => void runWarming(), ms);
}

async function runWarming(): Promise<void> {
  if (warming) return;
  warming = true;
  try {
    while (warmQueue.length > 0) {
      const quietFor = Date.now() - lastAsked;
      if (quietFor < WARM_QUIET_MS) return warmIn(WARM_QUIET_MS - quietFor + 1);
      const job = warmQueue.shift()!;
      const started = performance.now();
      await warmOne(job.path, job.read, 'thread');
      job.done();
      const rest = Math.min(WARM_REST_MAX_MS, (performance.now() - started) * (1 / WARM_CPU_SHARE - 1));
      if (warmQueue.length > 0 && rest >= 1) await new Promise((resolve) => setTimeout(resolve, rest));
    }
  } finally {
    warming = false;
  }
}

/**
 * One file's facts into the cache, computed `here` (in turns of the event loop) or on the
 * low-priority thread (facts-thread.ts; here when there is none); never throws.
 */
async function warmOne(path: string, read: (path: string) => Promise<string | null>, where: 'here' | 'thread'): Promise<void> {
  try {
    const text = await read(path);
    if (text === null) return;
    // Known: a lookup, which keeps it among the recently used.
    if (cache.get(text)?.byPath.has(path)) return void pythonFacts(path, text);
    const answer = where === 'thread' ? await factsOnThread(path, text) : null;
    if (!answer) return await factsInTurns(path, text);
    // Nothing is known of a text whose parse ran out of time: it is not cached (see pythonFacts).
    if (answer.timedOut) return;
    // Grading may have computed it meanwhile: one entry per text.
    let entry = cache.get(text);
    if (!entry) remember(text, (entry = { distrust: answer.distrust, skeleton: answer.skeleton, byPath: new Map() }));
    if (!entry.byPath.has(path)) entry.byPath.set(path, new Map(answer.definitions));
  } catch {
    // Only a warm-up: grading reads the file again and reports what goes wrong.
  }
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * What pythonFacts(path, text) computes, in four turns of the event loop (the parse, whether
 * Python reads it so, the skeleton, the definitions), so that no turn takes as long as a large
 * file's facts at once: measured in a burst, 250 to 360 ms of one file held every step waiting
 * for the server. The same functions on the same text: the values are those pythonFacts gives.
 */
async function factsInTurns(path: string, text: string): Promise<void> {
  await nextTurn();
  if (cache.get(text)?.byPath.has(path)) return void pythonFacts(path, text);
  const python = pythonText(text);
  const parsed = parsePython(python);
  // Nothing is known of a text whose parse ran out of time: it is not cached (see pythonFacts).
  if ('timedOut' in parsed) return;
  await nextTurn();
  let entry = cache.get(text);
  if (!entry) {
    const distrust = pythonDistrust(text, python, parsed);
    await nextTurn();
    const skeleton = codeSkeleton({ text: python, parsed, distrust });
    await nextTurn();
    // Grading may have computed it meanwhile: one entry per text.
    entry = cache.get(text);
    if (!entry) remember(text, (entry = { distrust, skeleton, byPath: new Map() }));
  }
  if (entry.byPath.has(path)) return;
  const own = python === text ? parsed : parsePython(text);
  if (!('timedOut' in own)) definitionsIn(entry, path, text, own);
}
