/** Worker thread: analyses each file it is sent and posts the result back. */
import { parentPort } from 'node:worker_threads';
import { analyzeFile } from './module.js';

parentPort!.on('message', async ({ root, file }: { root: string; file: string }) => {
  parentPort!.postMessage(await analyzeFile(root, file));
});
