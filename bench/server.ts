/**
 * Server benchmark, against a server in its own process on loopback. Prints one JSON object:
 * - step latency of `execute_bash echo hi` in a warm episode, over REST (keep-alive) and over
 *   WebSocket, p50/p99, with `docker exec` of the same command measured in the same run;
 * - reset latency from a warm pool on a mid-size repository (jinja2), p50/p99;
 * - 64 episodes at once, each stepping in a loop for --duration seconds: errors, step p50/p99,
 *   steps done, and the server's RSS at the end.
 * It talks to the server through the TypeScript client (clients/ts), as a trainer would.
 * Usage: node --import tsx bench/server.ts [--duration 60] [--episodes 64]
 * HGYM_BENCH_PROFILE=DIR writes a CPU profile of the server process into DIR.
 * HGYM_BENCH_STEPS=FILE writes each step of the 64 episodes as a line of JSON into FILE: when it
 * started (ms from the first, and since the epoch), its time, and the command's own time in the sandbox.
 */
import { startBenchServer } from './bench-server.js';
import Docker from 'dockerode';
import { HgymClient, HgymSocket, toolCall } from '../clients/ts/index.js';
import { dockerExec } from './docker-exec.js';
import { writeFileSync } from 'node:fs';
import { numberArg, percentile, round, rssMiB } from './stats.js';

const DURATION_S = numberArg('duration', 60);
const EPISODES = numberArg('episodes', 64);
const SAMPLES = numberArg('samples', 300);

const { port, pid, stop } = await startBenchServer(8, EPISODES + 8, 180_000);
const url = `http://127.0.0.1:${port}`;
const client = new HgymClient({ url });

const echo = toolCall('execute_bash', { command: 'echo hi' });
const longEpisode = { task: 'dep_search', options: { max_steps: 10_000 } };


async function restLatency(): Promise<number[]> {
  const { episode_id } = await client.reset(longEpisode);
  for (let i = 0; i < 30; i++) await client.step(episode_id, echo);
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    const r = await client.step(episode_id, echo);
    times.push(performance.now() - t0);
    if (!r.observation.text.startsWith('hi\n')) throw new Error('unexpected observation');
  }
  await client.close(episode_id);
  return times;
}

async function wsLatency(): Promise<number[]> {
  const socket = await HgymSocket.connect({ url });
  const { episode_id } = await socket.reset(longEpisode);
  for (let i = 0; i < 30; i++) await socket.step(episode_id, echo);
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = performance.now();
    const r = await socket.step(episode_id, echo);
    times.push(performance.now() - t0);
    if (!r.observation.text.startsWith('hi\n')) throw new Error('unexpected observation');
  }
  await socket.close(episode_id);
  await socket.disconnect();
  return times;
}

async function dockerExecLatency(): Promise<number[]> {
  const docker = new Docker();
  const [info] = await docker.listContainers({ filters: { label: ['hgym.owner'], status: ['running'] } });
  if (!info) throw new Error('no sandbox container to exec into');
  const container = docker.getContainer(info.Id);
  const times: number[] = [];
  for (let i = 0; i < 60; i++) {
    const t0 = performance.now();
    await dockerExec(container, 'echo hi');
    if (i >= 5) times.push(performance.now() - t0);
  }
  return times;
}

async function resetLatency(): Promise<number[]> {
  if (!(await client.tasks()).families.func_localize) throw new Error('no func_localize tasks');
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    // Let the pool refill between resets: this measures a reset from a warm pool.
    for (let tries = 0; tries < 100; tries++) {
      const { pool } = await client.ready();
      if (Number(pool?.warm ?? 0) >= 4) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const t0 = performance.now();
    const r = await client.reset({ task: 'func_localize', seed: i });
    times.push(performance.now() - t0);
    await client.close(r.episode_id);
  }
  return times;
}

async function concurrency(): Promise<{ errors: number; steps: number; times: number[] }> {
  const ids = await Promise.all(
    Array.from({ length: EPISODES }, async (_, i) => (await client.reset({ ...longEpisode, seed: i })).episode_id),
  );
  const deadline = Date.now() + DURATION_S * 1000;
  const times: number[] = [];
  // Only when asked: a line of JSON per step is client CPU inside the measured loop.
  const logFile = process.env.HGYM_BENCH_STEPS;
  const log: string[] = [];
  const start = performance.now();
  let errors = 0;
  await Promise.all(
    ids.map(async (id) => {
      while (Date.now() < deadline) {
        const t0 = performance.now();
        try {
          const r = await client.step(id, echo);
          const ms = performance.now() - t0;
          times.push(ms);
          const exec = r.info.exec as { duration_ms?: number } | undefined;
          if (logFile) log.push(JSON.stringify({ at_ms: round(t0 - start, 1), epoch_ms: Math.round(performance.timeOrigin + t0), ms: round(ms, 1), exec_ms: exec?.duration_ms ?? null }));
        } catch {
          errors++;
        }
      }
    }),
  );
  await Promise.all(ids.map((id) => client.close(id)));
  if (logFile) writeFileSync(logFile, `${log.join('\n')}\n`);
  return { errors, steps: times.length, times };
}

try {
  const rest = await restLatency();
  const ws = await wsLatency();
  const exec = await dockerExecLatency();
  const reset = await resetLatency();
  const load = await concurrency();
  const rss = rssMiB(pid);
  const restP50 = percentile(rest, 50);
  const wsP50 = percentile(ws, 50);
  const execP50 = percentile(exec, 50);
  const loadP99 = percentile(load.times, 99);
  const result = {
    benchmark: 'server',
    when: new Date().toISOString(),
    step_ms: {
      rest: { n: rest.length, p50: restP50, p99: percentile(rest, 99) },
      websocket: { n: ws.length, p50: wsP50, p99: percentile(ws, 99) },
      docker_exec: { n: exec.length, p50: execP50 },
      docker_exec_over_rest_p50: round(execP50 / restP50, 1),
      docker_exec_over_websocket_p50: round(execP50 / wsP50, 1),
    },
    reset_ms: { n: reset.length, p50: percentile(reset, 50), p99: percentile(reset, 99) },
    concurrency: { episodes: EPISODES, seconds: DURATION_S, steps: load.steps, errors: load.errors, step_p50_ms: percentile(load.times, 50), step_p99_ms: loadP99, server_rss_mib: rss },
    targets: {
      rest_p50_le_3ms: restP50 <= 3,
      websocket_p50_le_2ms: wsP50 <= 2,
      ge_15x_faster_than_docker_exec: execP50 / restP50 >= 15 && execP50 / wsP50 >= 15,
      reset_p50_le_150ms: percentile(reset, 50) <= 150,
      reset_p99_le_500ms: percentile(reset, 99) <= 500,
      concurrency_zero_errors: load.errors === 0,
      concurrency_step_p99_le_100ms: loadP99 <= 100,
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await stop();
}
