/**
 * Sandbox runtime benchmark. Prints one JSON object:
 * - executor: round trip of `echo hi` through the in-container executor (LeasedSandbox.exec);
 * - docker_exec: the same command as `docker exec` does it through dockerode (exec create,
 *   start with attached output read to the end, inspect for the exit code), in the same run,
 *   against the same container;
 * - checkout: acquire() from a warm pool vs a cold create + start + ready;
 * - idle_memory: memory use of warm containers as the engine reports it (usage minus cache).
 * Usage: node --import tsx bench/sandbox.ts [--iterations N]
 */
import Docker from 'dockerode';
import { DockerSandboxPool } from '../docker/pool.js';
import { dockerExec } from './docker-exec.js';
import { numberArg, percentile, round, timeIt } from './stats.js';

const ITERATIONS = numberArg('iterations', 500);
const DOCKER_EXEC_ITERATIONS = numberArg('docker-exec-iterations', 100);
const CHECKOUTS = numberArg('checkouts', 20);
const docker = new Docker();

async function main(): Promise<void> {
  const pool = await DockerSandboxPool.start({ warm: 4, max: 8 });
  try {
    await pool.waitWarm(4);
    const sandbox = await pool.acquire();
    const container = docker.getContainer(sandbox.id);

    for (let i = 0; i < 50; i++) await sandbox.exec('echo hi', { timeoutMs: 5000 });
    const executor: number[] = [];
    for (let i = 0; i < ITERATIONS; i++) {
      executor.push(
        await timeIt(async () => {
          const r = await sandbox.exec('echo hi', { timeoutMs: 5000 });
          if (r.output !== 'hi\n' || r.exitCode !== 0) throw new Error(`unexpected result ${JSON.stringify(r)}`);
        }),
      );
    }
    for (let i = 0; i < 5; i++) await dockerExec(container, 'echo hi');
    const viaDockerExec: number[] = [];
    for (let i = 0; i < DOCKER_EXEC_ITERATIONS; i++) {
      viaDockerExec.push(
        await timeIt(async () => {
          const out = await dockerExec(container, 'echo hi');
          if (out !== 'hi\n') throw new Error(`unexpected docker exec output ${JSON.stringify(out)}`);
        }),
      );
    }
    await sandbox.release();
    // A release does not wait for its container's removal: the idle figure is of warm containers alone.
    const until = Date.now() + 30_000;
    while (Object.values(pool.stats().engines ?? {}).some((e) => e.removing) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));

    const memory: number[] = [];
    for (const info of await docker.listContainers({ filters: { label: [`hgym.owner=${pool.owner.id}`] } })) {
      const stats = await docker.getContainer(info.Id).stats({ stream: false });
      const cache = (stats.memory_stats.stats as Record<string, number> | undefined)?.total_inactive_file ?? stats.memory_stats.stats?.cache ?? 0;
      memory.push((stats.memory_stats.usage - cache) / 2 ** 20);
    }

    const warmCheckout: number[] = [];
    for (let i = 0; i < CHECKOUTS; i++) {
      await pool.waitWarm(4);
      let leased: Awaited<ReturnType<typeof pool.acquire>> | undefined;
      warmCheckout.push(await timeIt(async () => (leased = await pool.acquire())));
      await leased?.release();
    }
    await pool.close();

    const cold = await DockerSandboxPool.start({ warm: 0, max: 2 });
    const coldCheckout: number[] = [];
    for (let i = 0; i < Math.max(5, CHECKOUTS / 2); i++) {
      let leased: Awaited<ReturnType<typeof cold.acquire>> | undefined;
      coldCheckout.push(await timeIt(async () => (leased = await cold.acquire())));
      await leased?.release();
    }
    await cold.close();

    const execP50 = percentile(executor, 50);
    const dockerP50 = percentile(viaDockerExec, 50);
    const result = {
      benchmark: 'sandbox',
      when: new Date().toISOString(),
      executor_echo_ms: { n: executor.length, p50: execP50, p99: percentile(executor, 99) },
      docker_exec_echo_ms: { n: viaDockerExec.length, p50: dockerP50, p99: percentile(viaDockerExec, 99) },
      docker_exec_over_executor_p50: round(dockerP50 / execP50, 1),
      checkout_ms: {
        warm: { n: warmCheckout.length, p50: percentile(warmCheckout, 50), p99: percentile(warmCheckout, 99) },
        cold: { n: coldCheckout.length, p50: percentile(coldCheckout, 50), p99: percentile(coldCheckout, 99) },
      },
      idle_memory_mib: { containers: memory.length, max: round(Math.max(...memory), 1), mean: round(memory.reduce((a, b) => a + b, 0) / memory.length, 1) },
      targets: {
        executor_p50_le_3ms: execP50 <= 3,
        docker_exec_ratio_ge_15: dockerP50 / execP50 >= 15,
        idle_memory_le_20mib: Math.max(...memory) <= 20,
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await pool.destroy();
  }
}

await main();
