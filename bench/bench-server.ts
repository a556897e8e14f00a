/**
 * The server under benchmark (server-process.ts) started in its own process, as every benchmark
 * against a live server does: with `warm` sandboxes and room for `maxEpisodes` episodes, ready
 * once it printed its port. HGYM_BENCH_PROFILE=DIR writes a CPU profile of it into DIR.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface BenchServer {
  port: number;
  pid: number;
  process: ChildProcess;
  /** Ends it (SIGTERM: episodes and sandboxes closed) and waits for it to exit. */
  stop(): Promise<void>;
}

export async function startBenchServer(warm: number, maxEpisodes: number, timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<BenchServer> {
  const profile = process.env.HGYM_BENCH_PROFILE;
  const child = spawn(
    process.execPath,
    [...(profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : []), '--import', 'tsx', new URL('./server-process.ts', import.meta.url).pathname, String(warm), String(maxEpisodes)],
    { stdio: ['ignore', 'pipe', 'inherit'], env },
  );
  const { port, pid } = await new Promise<{ port: number; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start in ${timeoutMs / 1000} s`)), timeoutMs);
    createInterface({ input: child.stdout! }).once('line', (l) => (clearTimeout(timer), resolve(JSON.parse(l))));
    child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
  });
  return {
    port,
    pid,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
