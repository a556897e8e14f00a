/**
 * The warm pool against a real engine: hardening, lifecycle, loss, refill, capacity,
 * lifetime, and cleanup after a crashed owner.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import t from 'tap';
import type Docker from 'dockerode';
import { DEFAULT_LIMITS, startSandbox } from '../../docker/container.js';
import { DockerEngine, type SandboxSpec } from '../../docker/engine.js';
import { LABEL_OWNER, ownerLabels, START_GRACE_MS } from '../../docker/owner.js';
import { DockerSandboxPool, DEFAULT_IMAGE } from '../../docker/pool.js';
import { docker, eventually, ownedBy } from '../helpers/docker.js';

t.test('a pooled container carries every hardening setting', async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 1, max: 2 });
  await using sb = await pool.acquire();
  const info = await docker.getContainer(sb.id).inspect();
  const host = info.HostConfig;
  t.equal(host.NetworkMode, 'none');
  t.same(host.CapDrop, ['ALL']);
  t.same(host.CapAdd ?? [], []);
  t.same(host.SecurityOpt, ['no-new-privileges']);
  t.equal(host.ReadonlyRootfs, true);
  t.equal(host.Memory, DEFAULT_LIMITS.memoryBytes);
  t.equal(host.MemorySwap, DEFAULT_LIMITS.memoryBytes, 'no swap beyond the memory limit');
  t.equal(host.NanoCpus, DEFAULT_LIMITS.nanoCpus);
  t.equal(host.PidsLimit, DEFAULT_LIMITS.pidsLimit);
  t.equal(host.Privileged, false);
  t.same(Object.keys(host.Tmpfs ?? {}).sort(), ['/home/agent', '/tmp', '/workspace']);
  t.match(host.Tmpfs?.['/workspace'], new RegExp(`size=${DEFAULT_LIMITS.workspaceBytes}`));
  t.equal(info.Config.User, '1000:1000');
  t.equal(info.Config.Labels[LABEL_OWNER], pool.owner.id);
  const inside = await sb.exec('id -u; grep -E "^(CapEff|CapPrm|CapBnd|NoNewPrivs)" /proc/self/status; ls /sys/class/net', { timeoutMs: 5_000 });
  t.equal(
    inside.output,
    '1000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000000\nNoNewPrivs:\t1\nlo\n',
    'commands run as uid 1000 with no capabilities and no network',
  );
  // The executor under SCHED_BATCH (3): woken by a request, it does not preempt the server's
  // event loop. The agent's commands under SCHED_OTHER (0).
  const policy = await sb.exec('python3 -c "import os; print(os.sched_getscheduler(1), os.sched_getscheduler(0))"', { timeoutMs: 5_000 });
  t.equal(policy.output, '3 0\n', "the executor runs under SCHED_BATCH, the agent's commands under SCHED_OTHER");
});

t.test("background() gives a sandbox Docker's least CPU weight, and it still runs commands", async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 1, max: 2 });
  await using sb = await pool.acquire();
  t.equal((await docker.getContainer(sb.id).inspect()).HostConfig.CpuShares, 0, 'the default weight at first');
  t.equal(await sb.background!(), true);
  t.equal((await docker.getContainer(sb.id).inspect()).HostConfig.CpuShares, 2);
  t.match(await sb.exec('echo lowered', { timeoutMs: 5_000 }), { exitCode: 0, output: 'lowered\n' });
});

t.test('checkout, release, and a released handle', async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 1, max: 2 });
  await pool.waitWarm(1);
  const sb = await pool.acquire();
  t.equal(pool.stats().leased, 1);
  t.ok(sb.usable);
  await sb.release();
  await sb.release();
  t.notOk(sb.usable);
  await t.rejects(sb.exec('echo', { timeoutMs: 1000 }), { code: 'HGYM_ERR_SANDBOX_RELEASED' });
  await t.rejects(sb.readFile('/etc/hostname'), { code: 'HGYM_ERR_SANDBOX_RELEASED' });
  t.ok(await eventually(async () => (await docker.listContainers({ all: true, filters: { id: [sb.id] } })).length === 0, 10_000), 'its container is gone');
  const next = await pool.acquire();
  t.not(next.id, sb.id, 'containers are never reused');
  await next.release();
});

t.test('a container killed from outside is reported lost, and the pool refills', async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 2, max: 4 });
  await pool.waitWarm(2);
  const sb = await pool.acquire();
  await docker.getContainer(sb.id).kill();
  await t.rejects(sb.exec('echo', { timeoutMs: 5000 }), { code: 'HGYM_ERR_SANDBOX_LOST' });
  t.notOk(sb.usable);
  t.equal(pool.stats().lost, 1);
  await sb.release();
  // A warm one killed from outside is replaced too.
  t.ok(await eventually(() => pool.stats().warm === 2 && pool.stats().starting === 0, 20_000));
  const warmIds = (await ownedBy(pool.owner.id)).map((c) => c.Id).filter((id) => id !== sb.id);
  t.equal(warmIds.length, 2);
  await docker.getContainer(warmIds[0]!).kill();
  t.ok(await eventually(() => pool.stats().lost === 2, 10_000), 'the warm loss is noticed');
  t.ok(await eventually(() => pool.stats().warm === 2, 20_000), 'the pool is back to two warm sandboxes');
});

t.test('capacity: beyond max, acquire waits for a release or fails with CAPACITY', async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 0, max: 1 });
  const first = await pool.acquire();
  await t.rejects(pool.acquire({ waitMs: 200 }), { code: 'HGYM_ERR_CAPACITY' });
  const waiting = pool.acquire({ waitMs: 20_000 });
  setTimeout(() => void first.release(), 100);
  const second = await waiting;
  t.ok(second.usable);
  t.not(second.id, first.id);
  await second.release();
});

t.test('close drains: later acquires fail, no container of this owner remains; close and destroy are idempotent', async (t) => {
  const pool = await DockerSandboxPool.start({ warm: 2, max: 4 });
  await pool.waitWarm(2);
  const leased = await pool.acquire();
  const closing = pool.close();
  await t.rejects(pool.acquire(), { code: 'HGYM_ERR_POOL_CLOSED' });
  t.ok(leased.usable, 'a leased sandbox keeps working while the pool drains');
  await leased.release();
  await closing;
  await pool.close();
  await pool.destroy();
  t.same(await ownedBy(pool.owner.id), []);
});

t.test('destroy removes leased sandboxes too', async (t) => {
  const pool = await DockerSandboxPool.start({ warm: 1, max: 3 });
  const leased = await pool.acquire();
  await pool.destroy(new Error('test teardown'));
  await pool.destroy();
  t.notOk(leased.usable);
  t.same(await ownedBy(pool.owner.id), []);
});

t.test('the maximum lifetime is enforced inside the container', async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 0, max: 1, limits: { lifetimeMs: 2_000 } });
  const sb = await pool.acquire();
  t.ok(await eventually(() => !sb.usable, 10_000), 'the sandbox ends by itself');
  await t.rejects(sb.exec('echo', { timeoutMs: 1000 }), { code: 'HGYM_ERR_SANDBOX_LOST' });
  t.ok(await eventually(async () => (await ownedBy(pool.owner.id)).length === 0, 10_000), 'its container is removed');
  await sb.release();
});

/** The local engine, with the sandbox's entrypoint replaced: an executor that never says ready. */
class EntrypointEngine extends DockerEngine {
  constructor(private readonly entrypoint: string[]) {
    super('local', docker);
  }

  protected override createOptions(spec: SandboxSpec): Docker.ContainerCreateOptions {
    return { ...super.createOptions(spec), Entrypoint: this.entrypoint };
  }
}

t.test('a container whose executor never becomes ready is removed and the error is coded', async (t) => {
  const spec = { image: DEFAULT_IMAGE, limits: DEFAULT_LIMITS, labels: ownerLabels('readiness-test', Date.now(), 60_000) };
  await t.rejects(startSandbox(new EntrypointEngine(['sleep', '600']), spec, 1_000, () => {}), { code: 'HGYM_ERR_SANDBOX_START' });
  t.same(await ownedBy('readiness-test'), []);
  await t.rejects(startSandbox(new EntrypointEngine(['false']), spec, 10_000, () => {}), { code: 'HGYM_ERR_SANDBOX_START' });
  t.ok(await eventually(async () => (await ownedBy('readiness-test')).length === 0, 10_000), 'the exited container is removed');
});

t.test('a missing image is a coded error at start', async (t) => {
  await t.rejects(DockerSandboxPool.start({ image: 'hgym/no-such-image:never' }), { code: 'HGYM_ERR_IMAGE_MISSING' });
});

t.test("start removes other servers' containers that cannot hold an episode, never live or unlabelled ones", async (t) => {
  const old = Date.now() - START_GRACE_MS - 1_000;
  const make = async (labels: Record<string, string>, start: boolean, entrypoint = ['sleep', '600']) => {
    const c = await docker.createContainer({ Image: DEFAULT_IMAGE, Entrypoint: entrypoint, Labels: labels, HostConfig: { NetworkMode: 'none' } });
    if (start) await c.start();
    return c;
  };
  const neverStarted = await make(ownerLabels('crashed-while-creating', old, 3_600_000), false);
  const exited = await make(ownerLabels('exited-owner', old, 3_600_000), true, ['true']);
  const expired = await make(ownerLabels('expired-owner', old - 7_200_000, 3_600_000), true);
  const unlabelled = await make({ 'hgym.test': 'unlabelled' }, true);
  // Another live server's running sandbox, even one with this host's name and a pid that is gone here.
  const live = await make({ ...ownerLabels('live-server', old, 3_600_000), 'hgym.owner.host': 'this-host', 'hgym.owner.pid': '999999999' }, true);
  const fresh = await make(ownerLabels('starting-server', Date.now(), 3_600_000), false);
  t.teardown(async () => {
    for (const c of [neverStarted, exited, expired, unlabelled, live, fresh]) await c.remove({ force: true }).catch(() => {});
  });
  await eventually(async () => (await exited.inspect()).State.Status === 'exited', 10_000);
  await using pool = await DockerSandboxPool.start({ warm: 0, max: 1 });
  const exists = async (c: Docker.Container) => (await docker.listContainers({ all: true, filters: { id: [c.id] } })).length === 1;
  t.notOk(await exists(neverStarted), 'a container its owner never started, past the start grace, is removed');
  t.notOk(await exists(exited), 'an exited one is removed');
  t.notOk(await exists(expired), 'one past its maximum lifetime is removed');
  t.ok(await exists(unlabelled), 'an unlabelled container is untouched');
  t.ok(await exists(live), "another server's running sandbox is untouched, whatever host and pid its labels name");
  t.ok(await exists(fresh), 'a container created moments ago (its owner may be starting it) is untouched');
  t.ok(pool.owner.id);
});

t.test('an owner killed with SIGKILL leaves nothing once the next server starts', async (t) => {
  const child = spawn(process.execPath, ['--import=tsx', new URL('../helpers/pool-owner.ts', import.meta.url).pathname], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the owner process did not report in 60 s')), 60_000);
    createInterface({ input: child.stdout! }).once('line', (l) => (clearTimeout(timer), resolve(l)));
    child.once('exit', (code) => reject(new Error(`the owner process exited early (${code})`)));
  });
  const { owner, leased } = JSON.parse(line) as { owner: string; leased: string };
  const before = (await ownedBy(owner)).map((c) => c.Id);
  t.ok(before.includes(leased) && before.length >= 2, `warm and leased containers belong to it (${before.length})`);
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  const started = Date.now();
  await using pool = await DockerSandboxPool.start({ warm: 0, max: 1 });
  t.ok(await eventually(async () => (await ownedBy(owner)).length === 0, 60_000), `nothing of the dead owner left after ${Date.now() - started} ms`);
  t.ok(pool.owner.id !== owner);
});
