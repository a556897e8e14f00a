/**
 * Warm pools per environment image against a real engine: each acquire runs in the image it
 * asks for, an environment's warm containers follow its recent demand under one bound on all
 * warm containers, waiters and slots are per image, and nothing of any image outlives the pool.
 * The environment image is the sandbox image under a second tag, removed at the end.
 */
import t from 'tap';
import { DockerSandboxPool, DEFAULT_IMAGE } from '../../docker/pool.js';
import { docker, eventually, ownedBy } from '../helpers/docker.js';

const ENV_REPO = 'hgym/env-test';
const ENV_TAG = 'pool';
const ENV_IMAGE = `${ENV_REPO}:${ENV_TAG}`;
const MISSING_IMAGE = 'hgym/no-such-image:never';

await docker.getImage(DEFAULT_IMAGE).tag({ repo: ENV_REPO, tag: ENV_TAG });
// Only the tag goes: the sandbox image keeps its own name and layers.
t.teardown(() => docker.getImage(ENV_IMAGE).remove({ noprune: true }));

async function imageOf(id: string): Promise<string> {
  return (await docker.getContainer(id).inspect()).Config.Image;
}

/** Containers of the pool's owner created from `image`. */
async function containersOf(pool: DockerSandboxPool, image: string): Promise<string[]> {
  return (await ownedBy(pool.owner.id)).filter((c) => c.Image === image).map((c) => c.Id);
}

function envStats(pool: DockerSandboxPool) {
  return pool.stats().environments?.[ENV_IMAGE];
}

t.test('each acquire runs in the image it asks for, locked down the same', async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 1, max: 4 });
  await using env = await pool.acquire({ image: ENV_IMAGE });
  await using base = await pool.acquire();
  t.equal(await imageOf(env.id), ENV_IMAGE);
  t.equal(await imageOf(base.id), DEFAULT_IMAGE);
  const host = (await docker.getContainer(env.id).inspect()).HostConfig;
  t.equal(host.NetworkMode, 'none');
  t.same(host.CapDrop, ['ALL']);
  t.equal(host.ReadonlyRootfs, true);
  t.equal((await env.exec('id -u', { timeoutMs: 5_000 })).output, '1000\n', 'the executor answers in the environment container');
  t.match(envStats(pool), { leased: 1 });
  t.equal(pool.stats().leased, 2, 'leased counts every image');
});

t.test("an environment's warm containers follow its demand, within maxWarm", async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 1, max: 8, envWarm: 3, maxWarm: 3 });
  await pool.waitWarm(1, 30_000);
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, pool.stats().warm)), 5);
  t.teardown(() => clearInterval(sampler));
  for (let i = 0; i < 3; i++) await (await pool.acquire({ image: ENV_IMAGE })).release();
  t.equal(envStats(pool)?.target, 2, 'three acquires, but only two fit beside the base image\'s one');
  t.ok(await eventually(() => envStats(pool)?.warm === 2, 30_000), 'the environment fills to its target');
  t.equal(pool.stats().warm - envStats(pool)!.warm, 1, 'the base image keeps its own warm container');
  // A release does not wait for its container's removal.
  t.ok(await eventually(() => Object.values(pool.stats().engines ?? {}).every((e) => !e.removing), 30_000), 'the released containers removed');
  const warmIds = await containersOf(pool, ENV_IMAGE);
  t.equal(warmIds.length, 2, 'two containers of the environment image exist');
  const next = await pool.acquire({ image: ENV_IMAGE });
  t.ok(warmIds.includes(next.id), 'the next acquire gets one of the warm containers');
  t.equal(await imageOf(next.id), ENV_IMAGE);
  await next.release();
  t.ok(await eventually(() => envStats(pool)?.warm === 2 && envStats(pool)?.starting === 0, 30_000), 'and it is refilled');
  clearInterval(sampler);
  t.ok(peak <= 3, `warm containers of all images never exceeded maxWarm (peak ${peak})`);
  t.equal(peak, 3, 'the sampler saw the pool at its bound');
});

t.test("the base image's target comes first", async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 1, max: 4, envWarm: 2, maxWarm: 1 });
  for (let i = 0; i < 2; i++) await (await pool.acquire({ image: ENV_IMAGE })).release();
  t.match(envStats(pool), { target: 0, warm: 0, starting: 0 }, 'no room left for the environment');
  t.equal(pool.stats().target, 1);
  await pool.waitWarm(1, 30_000);
});

t.test('an environment that goes cold gives its warm containers back', async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 0, max: 4, envWarm: 2, maxWarm: 2, demandWindowMs: 3_000 });
  // Keep it in demand until a warm container shows (bounded: each round trip is a cold start).
  const deadline = Date.now() + 30_000;
  while (!((envStats(pool)?.warm ?? 0) > 0) && Date.now() < deadline) await (await pool.acquire({ image: ENV_IMAGE })).release();
  t.ok((envStats(pool)?.warm ?? 0) > 0, 'warm while in demand');
  const cold = Date.now();
  t.ok(await eventually(async () => envStats(pool) === undefined && (await containersOf(pool, ENV_IMAGE)).length === 0, 20_000), 'removed, and the image forgotten');
  t.ok(Date.now() - cold >= 1_000, 'not before its demand aged');
  t.same(await containersOf(pool, ENV_IMAGE), []);
});

t.test('a missing environment image is a coded error; the base image still serves', async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 1, max: 3 });
  await pool.waitWarm(1, 30_000);
  await t.rejects(pool.acquire({ image: MISSING_IMAGE }), { code: 'HGYM_ERR_IMAGE_MISSING' });
  t.equal(pool.stats().failed, 1);
  t.equal(pool.stats().environments?.[MISSING_IMAGE]?.target ?? 0, 0, 'a failed acquire is no demand');
  await using sb = await pool.acquire();
  t.equal(await imageOf(sb.id), DEFAULT_IMAGE);
  await pool.waitWarm(1, 15_000);
  t.equal(pool.stats().failed, 1, 'the missing image is not retried in the background');
  t.same(await containersOf(pool, MISSING_IMAGE), []);
});

t.test('at max, a released slot goes to the waiter, with a container of its image', async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 0, max: 1 });
  const base = await pool.acquire();
  await t.rejects(pool.acquire({ image: ENV_IMAGE, waitMs: 200 }), { code: 'HGYM_ERR_CAPACITY' });
  const waiting = pool.acquire({ image: ENV_IMAGE, waitMs: 30_000 });
  await base.release();
  await using env = await waiting;
  t.equal(await imageOf(env.id), ENV_IMAGE);
  t.not(env.id, base.id);
});

t.test('at max, a warm container of another image gives way to an acquire', async (t) => {
  await using pool = await DockerSandboxPool.start({ warm: 1, max: 1, envWarm: 1 });
  await pool.waitWarm(1, 30_000);
  const [warmBase] = await containersOf(pool, DEFAULT_IMAGE);
  const env = await pool.acquire({ image: ENV_IMAGE, waitMs: 0 });
  t.equal(await imageOf(env.id), ENV_IMAGE);
  t.equal(pool.stats().warm, 0);
  t.ok(await eventually(async () => !(await containersOf(pool, DEFAULT_IMAGE)).includes(warmBase!), 10_000), 'the warm base container was removed');
  await env.release();
  await pool.waitWarm(1, 30_000);
  t.equal(envStats(pool)?.warm ?? 0, 0, 'with one slot, the base image refills first');
});

t.test('close drains every image: nothing of the owner remains', async (t) => {
  const pool = await DockerSandboxPool.start({ warm: 1, max: 4, envWarm: 1 });
  t.teardown(() => pool.destroy());
  await (await pool.acquire({ image: ENV_IMAGE })).release();
  t.ok(await eventually(() => envStats(pool)?.warm === 1 && pool.stats().warm === 2, 30_000), 'both images warm');
  const leased = await pool.acquire({ image: ENV_IMAGE });
  const images = new Set((await ownedBy(pool.owner.id)).map((c) => c.Image));
  t.same([...images].sort(), [DEFAULT_IMAGE, ENV_IMAGE].sort(), 'containers of both images exist');
  const closing = pool.close();
  await t.rejects(pool.acquire({ image: ENV_IMAGE }), { code: 'HGYM_ERR_POOL_CLOSED' });
  t.ok(leased.usable, 'a leased environment sandbox keeps working while the pool drains');
  await leased.release();
  await closing;
  t.same(await ownedBy(pool.owner.id), []);
});
