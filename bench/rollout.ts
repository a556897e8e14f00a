/**
 * Rollout benchmark: the shape of a GRPO-style training step against a server in its own
 * process on loopback. A batch of `--instances` task instances, each reset `--group` times, all
 * within the first two seconds (resets are spread uniformly over that window); each episode
 * then makes `--steps` tool calls with a think time of `--think-min`..`--think-max` seconds
 * before each (the model's turn), finishes (and is graded), and is closed. The pool is warmed
 * to `--pool` sandboxes before the burst and may hold `--pool` + N at once.
 *
 * Instances are spread over the task families and drawn fresh for each run (a random seed
 * base, or `--seed` to run one batch again), with an empty workspace cache: a trainer's next
 * batch is instances it has not seen.
 *
 * Also measured in the same run, before the server starts: the raw engine's rate of creating
 * and starting `--raw` containers of the same hardened spec, `--raw-parallel` at a time.
 *
 * Prints one JSON object: the batch's episodes per repository, errors, reset/step/finish p50 and
 * p99 (steps also split into those that started before the first finish and those while the
 * batch was being graded, and for commands, the command's own time in the sandbox apart from
 * the rest of the step), the pool's refill rates (in the background while episodes run, and at
 * full speed from the last close until the warm sets are back at their targets; when fewer
 * than `--raw` were left to start by then, every warm sandbox is handed out at once and closed,
 * and the refill after their containers are removed is measured) next to the raw engine's rate, and the server's peak RSS
 * (sampled every 250 ms).
 * Usage: node --import tsx bench/rollout.ts [--instances 32] [--group 4] [--steps 12]
 *   [--think-min 1] [--think-max 3] [--pool 128] [--raw 64] [--raw-parallel 8] [--seed N]
 * HGYM_BENCH_PROFILE=DIR writes a CPU profile of the server process into DIR.
 * HGYM_BENCH_RSS=FILE writes the server's RSS every 250 ms (ms from the burst's start, MiB).
 * HGYM_BENCH_STEPS=FILE writes every reset and step as a line of JSON into FILE: when it started
 * (ms from the burst's start), its time, the command's own time, the action ("reset" for a
 * reset) and the repository.
 */
import { startBenchServer } from './bench-server.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { v4 as uuidv4 } from 'uuid';
import { HgymApiError, HgymClient, toolCall, type Action } from '../clients/ts/index.js';
import type { ExecutorChannel } from '../docker/channel.js';
import { DEFAULT_LIMITS } from '../docker/container.js';
import { DockerEngine } from '../docker/engine.js';
import { ownerLabels } from '../docker/owner.js';
import { DEFAULT_IMAGE } from '../docker/pool.js';
import { numberArg, percentile, round, rssMiB } from './stats.js';

const INSTANCES = numberArg('instances', 32);
const GROUP = numberArg('group', 4);
const STEPS = numberArg('steps', 12);
const THINK_MIN_S = numberArg('think-min', 1);
const THINK_MAX_S = numberArg('think-max', 3);
const POOL = numberArg('pool', 128);
const RAW = numberArg('raw', 64);
const RAW_PARALLEL = numberArg('raw-parallel', 8);
/** The batch's instances are drawn from this seed on; by default a random one, a new batch each run. */
const SEED = numberArg('seed', Math.floor(Math.random() * 1e9));
const RESET_WINDOW_MS = 2_000;
/** How long the benchmark waits, after the last episode closed, for the warm set to be back at its target. */
const REFILL_WAIT_MS = 300_000;
const EPISODES = INSTANCES * GROUP;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` over `items`, at most `parallel` at a time. */
async function inParallel<T>(items: readonly T[], parallel: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** Containers of the sandbox spec created and started per second by the engine alone. */
async function rawEngineRate(): Promise<{ containers: number; parallel: number; seconds: number; per_s: number }> {
  const engine = DockerEngine.local();
  const owner = `bench-raw-${uuidv4()}`;
  const ids: string[] = [];
  const channels: ExecutorChannel[] = [];
  const t0 = performance.now();
  await inParallel(
    Array.from({ length: RAW }, (_, i) => i),
    RAW_PARALLEL,
    async () => {
      const { id, stream, channel } = await engine.create({ image: DEFAULT_IMAGE, limits: DEFAULT_LIMITS, labels: ownerLabels(owner, Date.now(), 600_000) });
      ids.push(id);
      stream.resume();
      // The same spec as a pool's sandbox, its channel included: held open, as the attach is,
      // so that no container ends before it is removed.
      if (channel) channels.push(channel);
      await engine.start(id);
    },
  );
  const seconds = (performance.now() - t0) / 1000;
  await inParallel(ids, RAW_PARALLEL, (id) => engine.remove(id));
  for (const channel of channels) void channel.connected.then((socket) => socket?.destroy());
  return { containers: RAW, parallel: RAW_PARALLEL, seconds: round(seconds, 2), per_s: round(RAW / seconds, 2) };
}


/** CPU seconds the process has used (user and system). */
function cpuSeconds(processId: number): number {
  const fields = readFileSync(`/proc/${processId}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime, the 14th and 15th fields of the whole line, in clock ticks (100 per second).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Memory charged to each running container (cgroup v1 or v2), in MiB: the sandboxes' footprint. */
function containerMemoryMiB(): number[] {
  const read = (path: string): number | null => {
    try {
      return Number(readFileSync(path, 'utf8')) / 2 ** 20;
    } catch {
      return null;
    }
  };
  const v1 = '/sys/fs/cgroup/memory/docker';
  const found: number[] = [];
  try {
    for (const id of readdirSync(v1)) {
      const m = /^[0-9a-f]{64}$/.test(id) ? read(join(v1, id, 'memory.usage_in_bytes')) : null;
      if (m !== null) found.push(m);
    }
  } catch {
    try {
      for (const scope of readdirSync('/sys/fs/cgroup/system.slice')) {
        const m = /^docker-[0-9a-f]{64}\.scope$/.test(scope) ? read(join('/sys/fs/cgroup/system.slice', scope, 'memory.current')) : null;
        if (m !== null) found.push(m);
      }
    } catch {
      // No cgroup view of the containers: no figure.
    }
  }
  return found;
}

/** What an agent does between resets and finish: look around, read, search, think. */
function agentAction(step: number, root: string): Action {
  switch (step % 5) {
    case 0:
      return toolCall('execute_bash', { command: 'ls' });
    case 1:
      return toolCall('str_replace_editor', { command: 'view', path: root });
    case 2:
      return toolCall('execute_bash', { command: 'grep -rn "def " --include=*.py . | head -n 40' });
    case 3:
      return toolCall('think', { thought: 'Reading the code before deciding.' });
    default:
      return toolCall('execute_bash', { command: 'git status --short | head -n 20; wc -l $(git ls-files "*.py" | head -n 5)' });
  }
}

const raw = await rawEngineRate();

const cacheDir = await mkdtemp(join(tmpdir(), 'hgym-rollout-'));
const { port, pid, stop } = await startBenchServer(POOL, EPISODES, 600_000, { ...process.env, HGYM_BENCH_CACHE_DIR: cacheDir });
const client = new HgymClient({ url: `http://127.0.0.1:${port}` });

let rssPeak = rssMiB(pid);
/** The server's RSS every 250 ms (HGYM_BENCH_RSS=FILE writes it, ms from the burst's start). */
const rssSeries: { at: number; mib: number }[] = [];
const rssTimer = setInterval(() => {
  const mib = rssMiB(pid);
  rssSeries.push({ at: performance.now(), mib });
  rssPeak = Math.max(rssPeak, mib);
}, 250);

/** The pool's starts over time, from /readyz, to see how fast it refills after the burst. */
interface PoolSample {
  /** When the pool was asked: the state it reports is from after that, never before. */
  asked: number;
  /** When it answered. */
  at: number;
  created: number;
  warm: number;
  target: number;
  /** Released containers not yet removed, on every engine. */
  removing: number;
}
const samples: PoolSample[] = [];
let sampling = true;
const sampler = (async () => {
  while (sampling) {
    // A sample that arrived after the drain's last close but was asked before it once made the
    // refill start before any drained container was being removed: `asked` tells them apart.
    const asked = performance.now();
    const { pool } = await client.ready();
    if (pool) {
      // The base image's target and every environment's: `warm` counts the warm sandboxes of all.
      const environments = Object.values(pool.environments ?? {}).reduce((n, s) => n + Number(s.target ?? 0), 0);
      const removing = Object.values(pool.engines ?? {}).reduce((n, e) => n + Number(e.removing ?? 0), 0);
      samples.push({ asked, at: performance.now(), created: Number(pool.created ?? 0), warm: Number(pool.warm ?? 0), target: Number(pool.target ?? 0) + environments, removing });
    }
    await sleep(200);
  }
})();

const summary = (ms: number[]) => ({ n: ms.length, p50: percentile(ms, 50), p99: percentile(ms, 99) });
/** Of the steps that ran a command: p50 and p99 of the command's own time and of the rest. */
function commandSplit(steps: readonly { ms: number; execMs: number | null }[]) {
  const commands = steps.filter((s): s is { ms: number; execMs: number } => s.execMs !== null);
  return { n: commands.length, in_sandbox: summary(commands.map((s) => s.execMs)), around: summary(commands.map((s) => s.ms - s.execMs)) };
}

/**
 * The pool's refill from `since` (when the last sandbox was given back) until its warm sets are
 * back at their targets: how many it started and how fast. per_s is null when none was needed.
 */
async function refillFrom(since: number, createdAt: number): Promise<{ started: number; seconds: number; per_s: number | null; back_to_target: boolean }> {
  const deadline = since + REFILL_WAIT_MS;
  while (performance.now() < deadline) {
    const last = samples.at(-1);
    if (last && last.at > since && last.warm >= last.target) break;
    await sleep(200);
  }
  const backAt = samples.find((s) => s.at > since && s.warm >= s.target);
  const end = backAt ?? samples.at(-1)!;
  const started = end.created - createdAt;
  const seconds = (end.at - since) / 1000;
  return { started, seconds: round(seconds, 2), per_s: started > 0 ? round(started / seconds, 2) : null, back_to_target: backAt !== undefined };
}

/** Hands out every warm sandbox at once (resets), closes them all, and measures the refill after. */
async function drainAndRefill(tasks: readonly string[]): Promise<Awaited<ReturnType<typeof refillFrom>> & { drained: number; removed_after_s: number }> {
  const warm = samples.at(-1)?.warm ?? 0;
  const ids = await Promise.all(Array.from({ length: Math.min(warm, EPISODES) }, (_, i) => client.reset({ task: tasks[i % tasks.length]! }).then((r) => r.episode_id)));
  await Promise.all(ids.map((id) => client.close(id)));
  const closed = performance.now();
  // Counted from the pool's first report after the last close with the drained containers
  // removed (a close does not wait for that): the raw engine's rate is of creating and starting.
  const removed = (s: PoolSample) => s.asked >= closed && s.removing === 0;
  while (!samples.some(removed) && performance.now() < closed + REFILL_WAIT_MS) await sleep(50);
  const first = samples.find(removed) ?? samples.at(-1)!;
  // From when that report was asked, and its created count as answered: if anything, a little
  // longer and fewer started than the refill itself.
  return { drained: ids.length, removed_after_s: round((first.asked - closed) / 1000, 2), ...(await refillFrom(first.asked, first.created)) };
}

const errors: string[] = [];
/** Episodes per repository: a batch of large repositories costs more than one of small ones. */
const repos: Record<string, number> = {};
const resetTimes: number[] = [];
const stepTimes: number[] = [];
type Timed = { at: number; ms: number; execMs: number | null; action: string; repo: string };
/** When each step started, with its time: steps that overlap the batch's grading are told apart. */
const stepsAt: Timed[] = [];
const resetsAt: Timed[] = [];
let firstFinishAt = Infinity;
const finishTimes: number[] = [];
const rewards: number[] = [];

try {
  const { families } = await client.tasks();
  const names = Object.keys(families).filter((f) => (families[f]?.instances ?? 0) > 0);
  if (names.length === 0) throw new Error('the corpus has no instances');
  const seedBase = SEED;
  const cpuBefore = cpuSeconds(pid);
  let memory: number[] = [];
  const burstStart = performance.now();
  const createdBefore = samples.at(-1)?.created ?? 0;

  async function episode(index: number): Promise<void> {
    const instance = Math.floor(index / GROUP);
    const request = { task: names[instance % names.length]!, seed: seedBase + instance, options: { max_steps: STEPS + 1 } };
    await sleep((index / EPISODES) * RESET_WINDOW_MS);
    let id: string | null = null;
    try {
      const t0 = performance.now();
      const reset = await client.reset(request);
      const resetMs = performance.now() - t0;
      resetTimes.push(resetMs);
      id = reset.episode_id;
      // Once every episode has its sandbox: the memory of all sandboxes, leased and warm.
      if (resetTimes.length === EPISODES) memory = containerMemoryMiB();
      const root = String(reset.info.workspace ?? '/workspace');
      const repo = root.split('/').at(-1)!;
      repos[repo] = (repos[repo] ?? 0) + 1;
      resetsAt.push({ at: t0, ms: resetMs, execMs: null, action: 'reset', repo });
      for (let step = 0; step < STEPS; step++) {
        await sleep((THINK_MIN_S + Math.random() * (THINK_MAX_S - THINK_MIN_S)) * 1000);
        const t1 = performance.now();
        const action = agentAction(step, root);
        const result = await client.step(id, action);
        const ms = performance.now() - t1;
        const exec = result.info.exec as { duration_ms?: number } | undefined;
        stepTimes.push(ms);
        stepsAt.push({ at: t1, ms, execMs: typeof exec?.duration_ms === 'number' ? exec.duration_ms : null, action: JSON.stringify(action), repo });
      }
      await sleep((THINK_MIN_S + Math.random() * (THINK_MAX_S - THINK_MIN_S)) * 1000);
      const t2 = performance.now();
      firstFinishAt = Math.min(firstFinishAt, t2);
      const done = await client.step(id, toolCall('finish', { message: 'done' }));
      finishTimes.push(performance.now() - t2);
      if (!done.terminated) throw new Error('finish did not end the episode');
      rewards.push(done.reward);
    } catch (err) {
      errors.push(err instanceof HgymApiError ? `${err.code}: ${err.message}` : String(err));
    } finally {
      if (id) await client.close(id).catch((err: Error) => errors.push(`close: ${err.message}`));
    }
  }

  await Promise.all(Array.from({ length: EPISODES }, (_, i) => episode(i)));
  const rolloutSeconds = (performance.now() - burstStart) / 1000;
  const serverCpu = cpuSeconds(pid) - cpuBefore;

  // Refill. While episodes run, the pool refills in the background, a sandbox at a time per
  // engine, so as not to take the CPU their steps need; once none runs it refills at full speed.
  // Both are reported; the full-speed one (from the last close until the warm set is back at its
  // target) is what compares with the raw engine's create-and-start rate.
  const rolloutEnd = performance.now();
  const createdAtEnd = samples.at(-1)?.created ?? createdBefore;
  const afterRollout = await refillFrom(rolloutEnd, createdAtEnd);
  // Fewer left to refill once the last episode closed than the raw engine started (the
  // background refill had brought the warm set back, or nearly): a few starts, timed to the
  // sampler's quarter second, are no measure of a rate. Then the pool's full-speed refill is
  // measured on its own, after every warm sandbox is handed out at once (resets, closed at
  // once, no steps), and that is what compares with the raw engine.
  const afterDrain = afterRollout.started < RAW ? await drainAndRefill(names) : null;
  const refillPerS = afterDrain ? afterDrain.per_s : afterRollout.per_s;
  const duringStarted = createdAtEnd - createdBefore;

  const resetP50 = percentile(resetTimes, 50);
  const resetP99 = percentile(resetTimes, 99);
  const stepP99 = percentile(stepTimes, 99);
  const result = {
    benchmark: 'rollout',
    when: new Date().toISOString(),
    shape: { seed: SEED, instances: INSTANCES, group: GROUP, episodes: EPISODES, steps: STEPS, think_s: [THINK_MIN_S, THINK_MAX_S], reset_window_s: RESET_WINDOW_MS / 1000, pool: POOL, families: names },
    repos: Object.fromEntries(Object.entries(repos).sort((a, b) => b[1] - a[1])),
    errors: errors.length,
    error_samples: [...new Set(errors)].slice(0, 5),
    rollout_s: round(rolloutSeconds, 1),
    reset_ms: { n: resetTimes.length, p50: resetP50, p99: resetP99, max: percentile(resetTimes, 100) },
    step_ms: {
      n: stepTimes.length,
      p50: percentile(stepTimes, 50),
      p99: stepP99,
      // Steps that started before any episode finished, and those while the batch was being graded.
      before_grading: summary(stepsAt.filter((s) => s.at < firstFinishAt).map((s) => s.ms)),
      during_grading: summary(stepsAt.filter((s) => s.at >= firstFinishAt).map((s) => s.ms)),
      // Commands only (execute_bash): the time the command ran in the sandbox, as the executor
      // measured it, and the rest of the step (server, engine, transport) around it.
      commands: {
        before_grading: commandSplit(stepsAt.filter((s) => s.at < firstFinishAt)),
        during_grading: commandSplit(stepsAt.filter((s) => s.at >= firstFinishAt)),
      },
    },
    finish_ms: { n: finishTimes.length, p50: percentile(finishTimes, 50), p99: percentile(finishTimes, 99) },
    rewards: { n: rewards.length, mean: round(rewards.reduce((a, b) => a + b, 0) / Math.max(1, rewards.length), 3) },
    refill: {
      during_rollout: { started: duringStarted, seconds: round(rolloutSeconds, 2), per_s: round(duringStarted / rolloutSeconds, 2) },
      after_rollout: afterRollout,
      ...(afterDrain ? { after_drain: afterDrain } : {}),
    },
    raw_engine: raw,
    refill_over_raw: refillPerS === null ? null : round(refillPerS / raw.per_s, 2),
    server_rss_peak_mib: rssPeak,
    server_cpu_s: round(serverCpu, 1),
    requests_per_server_cpu_s: round((resetTimes.length + stepTimes.length + finishTimes.length) / serverCpu, 1),
    sandbox_memory_mib: { containers: memory.length, p50: percentile(memory, 50), max: percentile(memory, 100), total: round(memory.reduce((a, b) => a + b, 0), 0) },
    targets: {
      zero_errors: errors.length === 0,
      reset_p50_le_300ms: resetP50 <= 300,
      reset_p99_le_2s: resetP99 <= 2_000,
      step_p99_le_100ms: stepP99 <= 100,
      server_rss_le_400mib: rssPeak <= 400,
      refill_ge_80pct_of_raw: refillPerS === null ? null : refillPerS >= 0.8 * raw.per_s,
    },
  };
  const rssFile = process.env.HGYM_BENCH_RSS;
  if (rssFile) writeFileSync(rssFile, `${rssSeries.map((r) => JSON.stringify({ at_ms: round(r.at - burstStart, 1), mib: r.mib })).join('\n')}\n`);
  const stepsFile = process.env.HGYM_BENCH_STEPS;
  if (stepsFile) {
    const lines = [...resetsAt, ...stepsAt].map((s) => JSON.stringify({ at_ms: round(s.at - burstStart, 1), epoch_ms: Math.round(performance.timeOrigin + s.at), ms: round(s.ms, 1), exec_ms: s.execMs, first_finish_ms: round(firstFinishAt - burstStart, 1), action: s.action, repo: s.repo }));
    writeFileSync(stepsFile, `${lines.join('\n')}\n`);
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  sampling = false;
  await sampler.catch(() => {});
  clearInterval(rssTimer);
  await stop();
  await rm(cacheDir, { recursive: true, force: true });
}
