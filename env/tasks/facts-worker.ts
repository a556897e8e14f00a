/**
 * Worker thread for warming (python-facts.ts): computes the facts of each text it is sent and
 * posts them back, so that a burst of resets does not parse on the server's event loop.
 */
import { parentPort } from 'node:worker_threads';
import { computeFacts } from './python-facts.js';

parentPort!.on('message', ({ id, path, text }: { id: number; path: string; text: string }) => {
  try {
    parentPort!.postMessage({ id, facts: computeFacts(path, text) });
  } catch (err) {
    parentPort!.postMessage({ id, error: String(err) });
  }
});
