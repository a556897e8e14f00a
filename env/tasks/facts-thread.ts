/**
 * The warm-up's Python facts computed off the event loop: one worker thread (facts-worker.ts)
 * at the lowest CPU priority (nice 19), so that warming a batch's files does not hold the
 * server's event loop. Against other processes (sandboxes, the engine) the thread weighs as
 * much as the server: the warm-up paces itself to a share of a CPU (WARM_CPU_SHARE). It
 * is started on first use and ends once it has had nothing to do for IDLE_MS (its memory is
 * the server's only while a batch's files are warmed); one that fails is not used again.
 */
import type { Worker } from 'node:worker_threads';
import type { Definition } from '../analysis/types.js';
import { startWorker } from '../analysis/pool.js';

export interface ThreadFacts {
  distrust: string | null;
  skeleton: string | null;
  definitions: [string, Definition][];
}

type Answer = ({ timedOut: false } & ThreadFacts) | { timedOut: true };

/** How long the worker waits for work before it ends. */
export const IDLE_MS = 2_000;

/**
 * The worker's heap: a small young generation (V8's default lets a thread that parses file
 * after file hold tens of MiB of garbage between collections: the server's RSS), and an old
 * one well above what the largest file the parser takes needs.
 */
const HEAP_LIMITS = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 };

/** The worker, and its answers still awaited by id. */
interface Thread {
  worker: Worker;
  waiting: Map<number, (answer: Answer | null) => void>;
  idle: NodeJS.Timeout | undefined;
}

let thread: Thread | null = null;
let failed = false;
let nextId = 0;

function ensure(): Thread | null {
  if (failed) return null;
  if (thread) return thread;
  const t: Thread = { worker: startWorker('facts-worker', import.meta.url, { resourceLimits: HEAP_LIMITS }), waiting: new Map(), idle: undefined };
  t.worker.on('message', ({ id, ...answer }: { id: number } & Answer) => {
    t.waiting.get(id)?.(answer);
    t.waiting.delete(id);
    if (t.waiting.size > 0) return;
    t.worker.unref();
    t.idle = setTimeout(() => {
      if (thread === t) thread = null;
      void t.worker.terminate();
    }, IDLE_MS).unref();
  });
  const lost = (broken: boolean) => {
    failed ||= broken;
    if (thread === t) thread = null;
    for (const answer of t.waiting.values()) answer(null);
    t.waiting.clear();
  };
  t.worker.on('error', () => lost(true));
  // Ended while it had work: not by its idle timer.
  t.worker.on('exit', () => lost(t.waiting.size > 0));
  t.worker.unref();
  return (thread = t);
}

/**
 * pythonFacts(path, text) as the worker computes it: the facts, `timedOut` when the parse ran
 * out of time, or null when no worker could do it (the caller computes them itself).
 */
export function factsOnThread(path: string, text: string): Promise<Answer | null> {
  const t = ensure();
  if (!t) return Promise.resolve(null);
  const id = nextId++;
  clearTimeout(t.idle);
  t.worker.ref();
  return new Promise((resolve) => {
    t.waiting.set(id, resolve);
    t.worker.postMessage({ id, path, text });
  });
}
