/**
 * Worker threads that parse files (tree-sitter parsing is CPU-bound and per file). They are
 * started on first use and kept for the life of the process, so that analysing many
 * repositories pays their start-up once; between jobs they are unref'd and do not keep
 * the process alive.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import type { FileAnswer } from './module.js';

/**
 * A worker thread running the module `name` (without extension) beside `from` (a module's
 * import.meta.url). Compiled, that is name.js; run from source (tests, tsx) it is name.ts,
 * loaded through tsx's loader, which a worker does not inherit. `options` are the Worker's.
 */
export function startWorker(name: string, from: string, options: WorkerOptions = {}): Worker {
  const fromSource = from.endsWith('.ts');
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, from);
  if (!fromSource) return new Worker(url, options);
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

interface Job {
  root: string;
  files: string[];
  next: number;
  answered: number;
  onAnswer: (a: FileAnswer) => void;
  resolve: () => void;
  reject: (err: Error) => void;
}

let workers: Worker[] = [];
let job: Job | null = null;

function feed(w: Worker): void {
  if (job && job.next < job.files.length) w.postMessage({ root: job.root, file: job.files[job.next++] });
}

function ensure(threads: number): Worker[] {
  while (workers.length < threads) {
    const w = startWorker('worker', import.meta.url);
    w.on('message', (a: FileAnswer) => {
      if (!job) return;
      job.onAnswer(a);
      if (++job.answered === job.files.length) job.resolve();
      else feed(w);
    });
    w.on('error', (err) => {
      // A broken worker is dropped; the job fails with its error and the next one starts afresh.
      workers = workers.filter((x) => x !== w);
      job?.reject(err);
    });
    w.unref();
    workers.push(w);
  }
  return workers.slice(0, threads);
}

/** Analyses `files` of `root` on `threads` workers; one job at a time per process. */
export async function analyzeOnWorkers(root: string, files: string[], threads: number, onAnswer: (a: FileAnswer) => void): Promise<void> {
  if (job) throw new Error('an analysis is already running on the worker pool');
  const active = ensure(threads);
  try {
    await new Promise<void>((resolve, reject) => {
      job = { root, files, next: 0, answered: 0, onAnswer, resolve, reject };
      for (const w of active) {
        w.ref();
        // Two files in flight per worker, so that reading overlaps parsing.
        feed(w);
        feed(w);
      }
    });
  } finally {
    job = null;
    for (const w of active) w.unref();
  }
}
