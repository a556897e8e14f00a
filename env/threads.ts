/**
 * Worker threads of this package's own modules. Compiled, a worker module is `<name>.js` beside
 * its caller; run from source (tests, tsx) it is `<name>.ts`, loaded through tsx's loader, which
 * a worker does not inherit.
 */
import { Worker } from 'node:worker_threads';

/** A worker running the module `name` that sits beside the module at `callerUrl` (its import.meta.url). */
export function startModuleWorker(callerUrl: string, name: string): Worker {
  const fromSource = callerUrl.endsWith('.ts');
  const url = new URL(`./${name}${fromSource ? '.ts' : '.js'}`, callerUrl);
  if (!fromSource) return new Worker(url);
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(url.href)}); })`;
  return new Worker(boot, { eval: true });
}
