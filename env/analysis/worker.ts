/** Worker thread: analyses the files it is sent and posts each result back. */
import { parentPort, workerData } from 'node:worker_threads';
import { analyzeFile } from './module.js';

const { root } = workerData as { root: string };

// The parent terminates the worker once every file is answered.
parentPort!.on('message', async (file: string) => {
  parentPort!.postMessage(await analyzeFile(root, file));
});
