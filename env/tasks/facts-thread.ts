/**
 * The warm-up's Python facts computed off the event loop: one worker thread (facts-worker.ts)
 * at the lowest CPU priority (nice 19), so that warming a batch's files neither holds the
 * server's event loop nor takes CPU from anything that wants it, episodes' steps included. It
 * is started on first use and kept, unref'd; one that fails is not used again.
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

let worker: Worker | null = null;
let failed = false;
let nextId = 0;
const waiting = new Map<number, (answer: Answer | null) => void>();

function ensure(): Worker | null {
  if (failed) return null;
  if (worker) return worker;
  const w = startWorker('facts-worker', import.meta.url);
  w.on('message', ({ id, ...answer }: { id: number } & Answer) => {
    waiting.get(id)?.(answer);
    waiting.delete(id);
    if (waiting.size === 0) w.unref();
  });
  const fail = () => {
    failed = true;
    worker = null;
    for (const answer of waiting.values()) answer(null);
    waiting.clear();
  };
  w.on('error', fail);
  w.on('exit', fail);
  w.unref();
  return (worker = w);
}

/**
 * pythonFacts(path, text) as the worker computes it: the facts, `timedOut` when the parse ran
 * out of time, or null when no worker could do it (the caller computes them itself).
 */
export function factsOnThread(path: string, text: string): Promise<Answer | null> {
  const w = ensure();
  if (!w) return Promise.resolve(null);
  const id = nextId++;
  w.ref();
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    w.postMessage({ id, path, text });
  });
}
