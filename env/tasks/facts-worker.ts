/**
 * Worker thread (facts-thread.ts): computes the Python facts of each text it is sent, at the
 * lowest CPU priority, and posts them back. Nothing is kept between texts.
 */
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { forgetFacts, pythonFacts } from './python-facts.js';

// Linux gives each thread its own nice value: this lowers this thread alone.
setPriority(19);

parentPort!.on('message', ({ id, path, text }: { id: number; path: string; text: string }) => {
  const facts = pythonFacts(path, text);
  forgetFacts();
  parentPort!.postMessage({ id, timedOut: facts.timedOut, distrust: facts.distrust, skeleton: facts.skeleton, definitions: [...facts.definitions] });
});
