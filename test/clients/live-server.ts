/**
 * Listening hgym servers on loopback for the client tests, all on one real sandbox pool and
 * the `shapes` fixture corpus: an open one, one that needs an API key, and one that takes a
 * single episode at a time (for the clients' capacity retries). Also picks a Python that
 * can run the client's tests, and spawns processes with a time limit.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Test } from 'tap';
import { DockerSandboxPool } from '../../docker/pool.js';
import { build } from '../../server/app.js';
import type { FuncLocalizeInstance, TaskInstance } from '../../schemas/tasks.js';
import { fixtureCorpus } from '../helpers/fixture-corpus.js';

export interface LiveServers {
  url: string;
  authUrl: string;
  apiKey: string;
  smallUrl: string;
  instances: TaskInstance[];
  corpusDir: string;
}

export async function liveServers(t: Test, pool: { warm: number; max: number } = { warm: 2, max: 10 }): Promise<LiveServers> {
  const { corpus, instances, dir, cacheDir } = await fixtureCorpus(t);
  const sandboxes = await DockerSandboxPool.start({ ...pool, startConcurrency: 2 });
  const apiKey = 'client-test-key';
  const common = { corpus, pool: sandboxes, cacheDir, trajectoryFile: `${dir}/trajectories.jsonl` };
  const apps = [
    await build({ instanceId: sandboxes.owner.id, ...common }),
    await build({ instanceId: sandboxes.owner.id, ...common, apiKey }),
    await build({ instanceId: sandboxes.owner.id, ...common, maxEpisodes: 1 }),
  ];
  const urls: string[] = [];
  const sockets = new Set<Socket>();
  for (const app of apps) {
    app.server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    urls.push(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`);
  }
  t.teardown(async () => {
    const closing = apps.map((app) => app.close());
    // The clients are gone by now. A WebSocket upgrade refused for want of the API key leaves
    // its socket half-open on the server, and close() would wait for it forever.
    for (const socket of sockets) socket.destroy();
    await Promise.all(closing);
    await sandboxes.close();
  });
  await sandboxes.waitWarm(1, 120_000);
  return { url: urls[0]!, authUrl: urls[1]!, apiKey, smallUrl: urls[2]!, instances, corpusDir: dir };
}

/** A func_localize instance and what a test needs to solve it through the tools. */
export function goldFuncLocalize(instances: readonly TaskInstance[]): { instance: FuncLocalizeInstance; gold: Record<string, unknown> } {
  const all = instances.filter((i): i is FuncLocalizeInstance => i.task === 'func_localize');
  const instance = all.find((i) => i.gold.targets.length === 1 && i.variant === 'named') ?? all[0];
  if (!instance) throw new Error('the fixture corpus has no func_localize instance');
  return {
    instance,
    gold: {
      instance_id: instance.instance_id,
      workspace: `/workspace/${instance.repo.name}`,
      targets: instance.gold.targets.map((x) => ({ file: x.file, line: x.line, qualname: x.qualname, docstring: x.docstring })),
    },
  };
}

/**
 * A Python 3 that can import `websockets` (the async client's tests need it): $HGYM_PYTHON,
 * else `python3` on the PATH, else Debian's /usr/bin/python3 (where apt's
 * python3-websockets lands when the PATH's python3 is another build).
 */
export function findPython(): { python: string; websockets: boolean } {
  const candidates = [process.env.HGYM_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => Boolean(p));
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import websockets'], { stdio: 'ignore', timeout: 20_000 });
    if (probe.status === 0) return { python, websockets: true };
  }
  return { python: candidates[0] ?? 'python3', websockets: false };
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs a command to its end, killing it (and its process group) after `timeoutMs`. */
export function run(command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => (stdout += String(d)));
    child.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // Already gone between the timer and the kill.
      }
    }, options.timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}
