/**
 * DockerSandboxPool's logic against in-memory engines (test/helpers/fake-engine.ts): warm refill,
 * capacity and waiters, environment demand, backoff, drain, start failures (refused or not), and
 * spreading over engines that go down and come back. No Docker engine is needed; real-Docker tests
 * are in test/docker-real/.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { DockerSandboxPool, type DockerPoolOptions } from '../../docker/pool.js';
import type { SandboxSpec } from '../../docker/engine.js';
import { LABEL_CREATED, ownerLabels, START_GRACE_MS } from '../../docker/owner.js';
import { hgymError } from '../../env/errors.js';
import type { Sandbox } from '../../env/sandbox.js';
import { FakeEngine } from '../helpers/fake-engine.js';

const BASE = 'hgym/sandbox:test';
const ENV = 'hgym/env-tally:test';
const HOUR = 3_600_000;

/**
 * An engine whose containers are labelled as created before the start grace: the reap at rejoin
 * may take one this pool no longer holds (a fresh one waits for a later sweep).
 */
class PastGraceEngine extends FakeEngine {
  override create(spec: SandboxSpec) {
    return super.create({ ...spec, labels: { ...spec.labels, [LABEL_CREATED]: String(Date.now() - START_GRACE_MS - 1_000) } });
  }
}

function fake(name: string, images: Record<string, string> = { [BASE]: 'sha256:base', [ENV]: 'sha256:env' }): FakeEngine {
  return new FakeEngine(name, images);
}

async function startPool(t: Test, options: DockerPoolOptions): Promise<DockerSandboxPool> {
  // The refill's wait for a burst of acquires to end has tests of its own (below); elsewhere it refills at once.
  const pool = await DockerSandboxPool.start({ image: BASE, logger: pino({ level: 'silent' }), probeMs: 50, probeTimeoutMs: 50, refillQuietMs: 0, ...options });
  t.teardown(() => pool.destroy());
  return pool;
}

/** Polls a condition every few ms; fails the test (and throws) if it does not hold within timeoutMs. */
async function eventually(t: Test, what: string, done: () => boolean, timeoutMs = 3_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) {
      t.fail(`${what}: not within ${timeoutMs} ms`);
      throw new Error(`${what}: not within ${timeoutMs} ms`);
    }
    await delay(5);
  }
}

const running = (e: FakeEngine): number => e.containers().filter((c) => c.state === 'running').length;
const holds = (e: FakeEngine, s: Sandbox & { id?: string }): boolean => e.containers().some((c) => c.id === s.id);
const exec = (s: Sandbox, command = 'echo hi') => s.exec(command, { timeoutMs: 1_000 });

/** Tracks an acquire without awaiting it: whether and how it settled. */
function track(p: Promise<Sandbox>) {
  const state: { sandbox?: Sandbox; error?: Error; settled: boolean } = { settled: false };
  p.then(
    (s) => Object.assign(state, { sandbox: s, settled: true }),
    (e: Error) => Object.assign(state, { error: e, settled: true }),
  );
  return state;
}

t.test('one engine', async (t) => {
  t.test('refills to the warm target and stays there', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 3, max: 8 });
    await pool.waitWarm(3, 2_000);
    await delay(50);
    t.equal(pool.stats().warm, 3);
    t.equal(a.calls.create, 3, 'no container beyond the target');
    t.equal(running(a), 3);
  });

  t.test('never above max, even with a larger warm target', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 5, max: 3 });
    await pool.waitWarm(3, 2_000);
    await delay(50);
    t.equal(pool.stats().warm, 3);
    t.equal(a.containers().length, 3);
    const leased = [await pool.acquire(), await pool.acquire()];
    await delay(50);
    t.ok(a.containers().length <= 3, 'leased and warm together within max');
    await Promise.all(leased.map((s) => s.release()));
  });

  t.test('starts at most startConcurrency containers at once', async (t) => {
    const a = fake('a');
    a.latencyMs = 20;
    const pool = await startPool(t, { engines: [a], warm: 6, max: 8, startConcurrency: 2 });
    await pool.waitWarm(6, 3_000);
    t.equal(a.maxStartsInFlight, 2);
  });

  t.test('while episodes run, the refill starts busyStartConcurrency containers at once; with none, startConcurrency', async (t) => {
    const a = fake('a');
    a.latencyMs = 20;
    const pool = await startPool(t, { engines: [a], warm: 6, max: 16, startConcurrency: 3, busyStartConcurrency: 1 });
    await pool.waitWarm(6, 3_000);
    t.equal(a.maxStartsInFlight, 3, 'filling an idle pool: startConcurrency at once');
    const leased = await Promise.all(Array.from({ length: 6 }, () => pool.acquire()));
    a.maxStartsInFlight = 0;
    await pool.waitWarm(6, 5_000);
    t.equal(a.maxStartsInFlight, 1, 'refilling beside 6 leased sandboxes: one at a time');
    await Promise.all(leased.slice(0, 3).map((s) => s.release()));
    await pool.waitWarm(6, 3_000);
    // With none leased, the refill of what was just used goes at full speed again.
    const more = await Promise.all(Array.from({ length: 6 }, () => pool.acquire()));
    await Promise.all([...leased.slice(3), ...more].map((s) => s.release()));
    a.maxStartsInFlight = 0;
    await pool.waitWarm(6, 3_000);
    t.equal(a.maxStartsInFlight, 3, 'refilling once every episode ended: startConcurrency at once');
  });

  t.test('after a burst of acquires, the refill waits until none has come for refillQuietMs', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 4, max: 16, refillQuietMs: 300 });
    await pool.waitWarm(4, 2_000);
    const created = a.calls.create;
    const leased = [];
    let lastAcquire = 0;
    // Three of the four: with one warm sandbox left the image waits (with none it would not).
    for (let i = 0; i < 3; i++) {
      leased.push(await pool.acquire());
      lastAcquire = Date.now();
      await delay(50);
    }
    await delay(100);
    t.equal(a.calls.create, created, 'no container started while the acquires came in, nor just after');
    await pool.waitWarm(4, 3_000);
    t.ok(Date.now() - lastAcquire >= 300, 'refilled once they had stopped for refillQuietMs');
    t.equal(a.calls.create, created + 3);
    await Promise.all(leased.map((s) => s.release()));
  });

  t.test('an acquire that finds no warm sandbox is not held: its container starts at once', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 2, max: 8, refillQuietMs: 60_000 });
    await pool.waitWarm(2, 2_000);
    const leased = [await pool.acquire()];
    const created = a.calls.create;
    await delay(50);
    t.equal(a.calls.create, created, 'one warm sandbox left: the refill waits');
    leased.push(await pool.acquire());
    const started = Date.now();
    leased.push(await pool.acquire());
    t.ok(Date.now() - started < 2_000, 'with none left, an acquire is served by a container started for it');
    t.equal(leased.length, 3);
    await Promise.all(leased.map((s) => s.release()));
  });

  t.test('while acquires come in, an image with no warm sandbox left still refills, one at a time', async (t) => {
    const a = fake('a');
    a.latencyMs = 20;
    const pool = await startPool(t, { engines: [a], warm: 4, max: 32, shares: { [ENV]: 0.25 }, refillQuietMs: 60_000, refillHoldMaxMs: 120_000 });
    await pool.waitTargets(2_000);
    const envTarget = pool.stats().environments?.[ENV]?.target ?? 0;
    t.ok(envTarget >= 2, `the environment keeps ${envTarget} ready`);
    const leased = [await pool.acquire()];
    for (let i = 0; i < envTarget; i++) leased.push(await pool.acquire({ image: ENV }));
    a.maxStartsInFlight = 0;
    await pool.waitWarm(1, 2_000, ENV);
    t.equal(pool.stats().warm, (pool.stats().target ?? 0) - 1 + 1, 'the base image, with warm sandboxes left, waits; the environment has one again');
    await delay(100);
    t.equal(pool.stats().environments?.[ENV]?.warm, 1, 'one: with a warm sandbox again, it waits too');
    t.equal(a.maxStartsInFlight, 1, 'one start at a time');
    await Promise.all(leased.map((s) => s.release()));
  });

  t.test('under a steady stream of acquires the refill waits refillHoldMaxMs at most', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 4, max: 40, refillQuietMs: 400, refillHoldMaxMs: 600 });
    await pool.waitWarm(4, 2_000);
    const leased = [];
    const began = Date.now();
    const seen: { at: number; warm: number }[] = [];
    // An acquire every 100 ms for 1.5 s: never 400 ms without one.
    for (let i = 0; i < 15; i++) {
      leased.push(await pool.acquire());
      await delay(100);
      seen.push({ at: Date.now() - began, warm: pool.stats().warm });
    }
    const early = seen.filter((s) => s.at >= 350 && s.at < 550).map((s) => s.warm);
    const late = seen.filter((s) => s.at >= 900).map((s) => s.warm);
    t.ok(early.length > 0 && Math.max(...early) <= 1, `held: at most the one an empty image starts (${early})`);
    t.ok(late.length > 0 && Math.max(...late) >= 3, `past refillHoldMaxMs the warm set is refilled while the acquires go on (${late})`);
    await Promise.all(leased.map((s) => s.release()));
  });

  t.test('while episodes run, released containers are halted at once and wait for their removal; once none is leased, all go at once', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 12, busyRemoveHoldMs: 60_000 });
    const leased = await Promise.all(Array.from({ length: 7 }, () => pool.acquire()));
    const ids = leased.map((s) => (s as Sandbox & { id: string }).id);
    a.latencyMs = 20;
    await Promise.all(leased.slice(0, 5).map((s) => s.release()));
    t.ok(ids.slice(0, 5).every((id) => a.halted.has(id)), 'a release resolves once its sandbox is halted');
    await delay(100);
    t.ok(leased.slice(0, 5).every((s) => holds(a, s)), 'beside 2 leased sandboxes their containers wait');
    t.equal(a.calls.remove, 0, 'none removed yet');
    t.equal(pool.stats().leased, 2);
    await Promise.all(leased.slice(5).map((s) => s.release()));
    await eventually(t, 'every container removed once none is leased', () => a.containers().length === 0);
    t.equal(a.maxRemovesInFlight, 7, 'all at once');
  });

  t.test('a held-back removal goes in its turn once it has waited busyRemoveHoldMs, busyRemoveConcurrency at a time', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 8, busyRemoveHoldMs: 150, busyRemoveConcurrency: 1 });
    const leased = await Promise.all(Array.from({ length: 6 }, () => pool.acquire()));
    a.latencyMs = 20;
    await Promise.all(leased.slice(0, 4).map((s) => s.release()));
    t.equal(a.calls.remove, 0, 'none removed at once');
    await eventually(t, 'the four removed while two are still leased', () => leased.slice(0, 4).every((s) => !holds(a, s)));
    t.equal(pool.stats().leased, 2);
    t.equal(a.maxRemovesInFlight, 1, 'one at a time');
    await Promise.all(leased.slice(4).map((s) => s.release()));
  });

  t.test('with more than max waiting for their removal, the oldest go in their turn', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 4, busyRemoveHoldMs: 60_000 });
    const first = await Promise.all(Array.from({ length: 4 }, () => pool.acquire()));
    await Promise.all(first.slice(0, 3).map((s) => s.release()));
    // Waiting containers hold no slot: three more may be leased beside the one left.
    const second = await Promise.all(Array.from({ length: 3 }, () => pool.acquire()));
    await Promise.all(second.map((s) => s.release()));
    await eventually(t, 'two removed', () => a.calls.remove === 2);
    await delay(50);
    t.equal(a.calls.remove, 2, 'no more than brings the wait back to max');
    t.ok(first.slice(0, 2).every((s) => !holds(a, s)), 'the oldest two');
    t.ok([first[2]!, ...second].every((s) => holds(a, s)), 'the rest still wait');
    await first[3]!.release();
    await eventually(t, 'every container removed once none is leased', () => a.containers().length === 0);
  });

  t.test('a released container its executor would not halt is removed at once, out of turn', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 4, busyRemoveHoldMs: 60_000 });
    const [kept, quiet, unhalted] = await Promise.all([1, 2, 3].map(() => pool.acquire()));
    await quiet!.release();
    a.refuseHalt = true;
    await unhalted!.release();
    await eventually(t, 'the unhalted one removed', () => !holds(a, unhalted!));
    t.ok(holds(a, quiet!), 'while the halted one still waits');
    t.notOk(a.halted.has((unhalted as Sandbox & { id: string }).id));
    await kept!.release();
    await eventually(t, 'every container removed once none is leased', () => a.containers().length === 0);
  });

  t.test('once the pool is closing, removals waiting their turn all go at once', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 8, busyRemoveHoldMs: 60_000 });
    const leased = await Promise.all(Array.from({ length: 6 }, () => pool.acquire()));
    a.latencyMs = 30;
    await Promise.all(leased.slice(0, 4).map((s) => s.release()));
    t.equal(a.calls.remove, 0, 'they wait beside two leased sandboxes');
    const closed = pool.close();
    await eventually(t, 'the four removed while two are still leased', () => leased.slice(0, 4).every((s) => !holds(a, s)));
    t.equal(a.maxRemovesInFlight, 4, 'all at once');
    await Promise.all(leased.slice(4).map((s) => s.release()));
    await closed;
    t.equal(a.containers().length, 0, 'every container removed');
  });

  t.test('background() sets the least CPU weight on its engine; an engine that cannot leaves the default', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 4 });
    const lowered = await pool.acquire();
    t.equal(await lowered.background!(), true);
    t.equal(a.cpuShares.get(lowered.id), 2, "Docker's least weight");
    a.refuseCpuShares = true;
    const kept = await pool.acquire();
    t.equal(await kept.background!(), false, 'refused: not lowered');
    t.notOk(a.cpuShares.has(kept.id));
    t.match(await exec(kept), { exitCode: 0 }, 'and it still runs commands');
    await Promise.all([lowered.release(), kept.release()]);
    await t.rejects(lowered.background!(), { code: 'HGYM_ERR_SANDBOX_RELEASED' });
  });

  t.test('archives unpack unpackConcurrency at a time per engine, the rest in turn', async (t) => {
    const a = fake('a');
    a.untarMs = 30;
    const pool = await startPool(t, { engines: [a], warm: 5, max: 5, unpackConcurrency: 2 });
    await pool.waitWarm(5, 3_000);
    const leased = await Promise.all(Array.from({ length: 5 }, () => pool.acquire()));
    await Promise.all(leased.map((s) => s.putArchive('/workspace/x', Buffer.from('an archive'))));
    t.equal(a.maxUntarsInFlight, 2, 'two at once, never more');
    await Promise.all(leased.map((s) => s.release()));
  });

  t.test('a container slower to start than the start grace stays its own pool\'s: its reaper does not take it', async (t) => {
    const a = new PastGraceEngine('a', { [BASE]: 'sha256:base' });
    a.silentCreates(1);
    const pool = await startPool(t, { engines: [a], warm: 1, max: 2, readyTimeoutMs: 1_000 });
    await eventually(t, 'the silent container exists', () => a.containers().length === 1, 1_000);
    const [starting] = a.containers();
    t.equal(await pool.reapOrphans(), 0, 'nothing reaped while it starts');
    t.ok(a.containers().some((c) => c.id === starting!.id), 'the starting container is still there');
    t.equal(pool.stats().starting, 1);
  });

  t.test("a warm container an acquire is checking is its pool's: its reaper does not take it", async (t) => {
    const a = new PastGraceEngine('a', { [BASE]: 'sha256:base' });
    const pool = await startPool(t, { engines: [a], warm: 1, max: 2 });
    await pool.waitWarm(1, 2_000);
    a.pongMs = 300;
    const acquiring = pool.acquire();
    await delay(50);
    t.equal(await pool.reapOrphans(), 0, 'nothing reaped while it is checked');
    const s = await acquiring;
    t.match(await exec(s), { exitCode: 0 }, 'the acquire gets it, alive');
    await s.release();
  });

  t.test('acquire takes a warm sandbox that runs commands, and the pool refills', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 2, max: 4 });
    await pool.waitWarm(2, 2_000);
    const warmIds = a.containers().map((c) => c.id);
    const s = await pool.acquire();
    t.ok(warmIds.includes((s as Sandbox & { id: string }).id), 'a container that was warm');
    t.match(await exec(s, 'echo hi'), { exitCode: 0, timedOut: false, output: /echo hi/ });
    t.equal(pool.stats().leased, 1);
    await pool.waitWarm(2, 2_000);
    t.equal(a.calls.create, 3);
    await s.release();
    t.notOk(holds(a, s), 'a released sandbox is removed');
    await t.rejects(exec(s), { code: 'HGYM_ERR_SANDBOX_RELEASED' });
  });

  t.test('waiters at max are served in order as leases are released', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 2 });
    const first = await pool.acquire();
    const second = await pool.acquire();
    const order: string[] = [];
    const c = track(pool.acquire({ waitMs: 5_000 }).finally(() => order.push('c')));
    const d = track(pool.acquire({ waitMs: 5_000 }).finally(() => order.push('d')));
    await delay(30);
    t.same(order, [], 'nobody is served while the pool is at max');
    await first.release();
    await eventually(t, 'c served', () => c.settled);
    await delay(30);
    t.same(order, ['c'], 'd waits on: the pool is at max again');
    t.equal(pool.stats().leased, 2);
    await second.release();
    await eventually(t, 'd served', () => d.settled);
    t.same(order, ['c', 'd']);
    t.ok(c.sandbox && d.sandbox);
    t.match(await exec(d.sandbox!), { exitCode: 0 });
    await c.sandbox!.release();
    await d.sandbox!.release();
  });

  t.test('at max: waitMs 0 fails at once, a wait times out, an abort ends the wait', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 1 });
    const held = await pool.acquire();
    await t.rejects(pool.acquire({ waitMs: 0 }), { code: 'HGYM_ERR_CAPACITY' });
    const t0 = Date.now();
    await t.rejects(pool.acquire({ waitMs: 80 }), { code: 'HGYM_ERR_CAPACITY' });
    t.ok(Date.now() - t0 >= 70, 'waited about waitMs');
    const controller = new AbortController();
    const reason = new Error('the trainer gave up');
    const aborted = pool.acquire({ waitMs: 5_000, signal: controller.signal });
    setTimeout(() => controller.abort(reason), 20);
    await t.rejects(aborted, reason);
    // The aborted waiter is gone: the released slot goes to nobody, and a new acquire gets it.
    await held.release();
    await delay(30);
    t.equal(pool.stats().leased, 0);
    const next = await pool.acquire({ waitMs: 0 });
    await next.release();
  });

  t.test('a priority waiter is served before earlier waiters', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 1 });
    const held = await pool.acquire();
    const order: string[] = [];
    const plain = track(pool.acquire({ waitMs: 5_000 }).finally(() => order.push('plain')));
    const urgent = track(pool.acquire({ waitMs: 5_000, priority: true }).finally(() => order.push('priority')));
    await delay(20);
    await held.release();
    await eventually(t, 'priority served', () => urgent.settled);
    t.same(order, ['priority']);
    await urgent.sandbox!.release();
    await eventually(t, 'plain served', () => plain.settled);
    t.same(order, ['priority', 'plain']);
    await plain.sandbox!.release();
  });

  t.test('an environment image gets a warm target by its demand, which decays after the window', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 1, envWarm: 2, maxWarm: 3, demandWindowMs: 400 });
    await pool.waitWarm(1, 2_000);
    t.same(pool.stats().environments, {}, 'no environment before any demand');
    const s1 = await pool.acquire({ image: ENV });
    const s2 = await pool.acquire({ image: ENV });
    t.equal(a.containers().find((c) => c.id === (s1 as Sandbox & { id: string }).id)?.image, ENV, 'runs the environment image');
    t.equal(pool.stats().environments?.[ENV]?.target, 2, 'two acquires in the window: target 2');
    await pool.waitWarm(2, 2_000, ENV);
    t.equal(pool.stats().warm, 3, 'base and environment warm together within maxWarm');
    await s1.release();
    await s2.release();
    // Warm sandboxes are not demand: with no acquire for a window, the environment drops to 0.
    await eventually(t, 'environment forgotten', () => pool.stats().environments?.[ENV] === undefined, 2_000);
    t.equal(a.containers().filter((c) => c.image === ENV).length, 0, 'its warm sandboxes are removed');
    t.equal(pool.stats().warm, 1, 'the base target stays');
  });

  t.test('shares split warm between the images before any demand, and stay while unused', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 8, shares: { [ENV]: 0.25 }, demandWindowMs: 300 });
    await pool.waitWarm(4, 2_000, ENV);
    await pool.waitWarm(6, 2_000);
    t.equal(pool.stats().target, 6, 'the base image keeps the rest of warm');
    t.equal(pool.stats().environments?.[ENV]?.target, 4, 'twice a quarter of 8 for the environment (PRIOR_HEADROOM)');
    t.equal(a.containers().filter((c) => c.image === ENV && c.state === 'running').length, 4, 'its sandboxes run its image');
    const s = await pool.acquire({ image: ENV });
    t.equal(a.containers().find((c) => c.id === (s as Sandbox & { id: string }).id)?.image, ENV, 'an acquire takes one of them');
    await s.release();
    // Past the demand window the share still holds its target (demand alone would drop to 0).
    await delay(700);
    t.equal(pool.stats().environments?.[ENV]?.target, 4, 'the share outlives the demand window');
    await pool.waitWarm(4, 2_000, ENV);
  });

  t.test('a failing start backs off instead of hammering the engine, and recovers', async (t) => {
    const a = fake('a');
    a.failCreates(1_000);
    const pool = await startPool(t, { engines: [a], warm: 2, max: 4 });
    await delay(1_200);
    // Backoff starts at 500 ms and doubles: a handful of creates in 1.2 s, not hundreds.
    t.ok(a.calls.create <= 8, `creates in 1.2 s: ${a.calls.create}`);
    t.ok(pool.stats().failed >= 2);
    a.failCreates(0);
    await pool.waitWarm(2, 5_000);
    t.equal(pool.stats().warm, 2);
  });

  t.test('a start failure while an acquire waits does not hammer the engine either', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 1 });
    const held = await pool.acquire();
    const waiter = track(pool.acquire({ waitMs: 1_000 }));
    a.failCreates(100_000);
    const before = a.calls.create;
    await held.release();
    await delay(300);
    t.ok(a.calls.create - before <= 8, `creates in 300 ms for one waiter: ${a.calls.create - before}`);
    await eventually(t, 'the waiter gets an answer', () => waiter.settled, 2_000);
    t.ok(waiter.error, 'the waiter is told it failed');
  });

  t.test('an executor that never says ready is removed, and the refill goes on', async (t) => {
    const a = fake('a');
    a.silentCreates(1);
    const pool = await startPool(t, { engines: [a], warm: 1, max: 2, readyTimeoutMs: 100 });
    await pool.waitWarm(1, 3_000);
    t.equal(a.calls.create, 2);
    t.equal(a.containers().length, 1, 'the silent container was removed');
    t.equal(pool.stats().failed, 1);
  });

  t.test('close() drains by events: it resolves right after the last release', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 2, max: 4 });
    await pool.waitWarm(2, 2_000);
    const s = await pool.acquire();
    let closedAt = 0;
    const closing = pool.close().then(() => (closedAt = Date.now()));
    t.ok(pool.closed);
    t.notOk(pool.destroyed);
    await t.rejects(pool.acquire(), { code: 'HGYM_ERR_POOL_CLOSED' });
    await delay(100);
    t.equal(closedAt, 0, 'close waits for the leased sandbox');
    t.equal(a.containers().length, 1, 'warm sandboxes are removed at once');
    const releasedAt = Date.now();
    await s.release();
    await closing;
    t.ok(closedAt - releasedAt < 200, `closed ${closedAt - releasedAt} ms after the release`);
    t.same(a.containers(), [], 'nothing left on the engine');
    t.equal(pool.close(), pool.close(), 'close is idempotent');
    await t.rejects(pool.acquire(), { code: 'HGYM_ERR_POOL_CLOSED' });
  });

  t.test('destroy(err) hands err to every waiter and removes leased sandboxes', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 1, max: 1 });
    await pool.waitWarm(1, 2_000);
    const held = await pool.acquire();
    const reason = hgymError('HGYM_ERR_DOCKER_UNAVAILABLE', 'the test pulls the plug');
    const waiter = t.rejects(pool.acquire({ waitMs: 5_000 }), reason);
    await pool.destroy(reason);
    await waiter;
    t.ok(pool.destroyed);
    t.ok(pool.closed);
    await t.rejects(exec(held), { code: 'HGYM_ERR_SANDBOX_RELEASED' });
    t.same(a.containers(), []);
    await t.rejects(pool.acquire(), { code: 'HGYM_ERR_POOL_CLOSED' });
  });
});

t.test('errors at start and acquire', async (t) => {
  t.test('start with every engine down', async (t) => {
    const a = fake('a');
    const b = fake('b');
    a.down();
    b.down();
    await t.rejects(DockerSandboxPool.start({ image: BASE, engines: [a, b], logger: pino({ level: 'silent' }) }), { code: 'HGYM_ERR_DOCKER_UNAVAILABLE' });
  });

  t.test('start with the image on no engine', async (t) => {
    const a = fake('a', {});
    const b = fake('b', {});
    await t.rejects(DockerSandboxPool.start({ image: BASE, engines: [a, b], logger: pino({ level: 'silent' }) }), { code: 'HGYM_ERR_IMAGE_MISSING' });
    t.same([...a.images.keys(), ...b.images.keys()], []);
  });

  t.test('acquire of an environment image no engine has', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 2 });
    await t.rejects(pool.acquire({ image: 'hgym/env-missing:test' }), { code: 'HGYM_ERR_IMAGE_MISSING' });
    t.same(a.containers(), []);
  });

  t.test('acquire while the only engine is down', async (t) => {
    const a = fake('a');
    const pool = await startPool(t, { engines: [a], warm: 0, max: 2 });
    a.down();
    await t.rejects(pool.acquire(), { code: 'HGYM_ERR_DOCKER_UNAVAILABLE' }, 'before the pool notices');
    await eventually(t, 'marked down', () => pool.stats().engines?.a?.up === false);
    await t.rejects(pool.acquire(), { code: 'HGYM_ERR_DOCKER_UNAVAILABLE' }, 'after');
  });
});

t.test('several engines', async (t) => {
  t.test('warm and leased sandboxes spread over both', async (t) => {
    const a = fake('a');
    const b = fake('b');
    const pool = await startPool(t, { engines: [a, b], warm: 2, max: 3 });
    await pool.waitWarm(undefined, 2_000);
    t.match(pool.stats().engines, { a: { up: true, warm: 2 }, b: { up: true, warm: 2 } });
    const leases = await Promise.all([1, 2, 3, 4, 5, 6].map(() => pool.acquire()));
    t.match(pool.stats().engines, { a: { leased: 3 }, b: { leased: 3 } });
    t.equal(leases.filter((s) => holds(a, s)).length, 3);
    t.equal(leases.filter((s) => holds(b, s)).length, 3);
    await t.rejects(pool.acquire({ waitMs: 0 }), { code: 'HGYM_ERR_CAPACITY' }, 'both at max');
    await Promise.all(leases.map((s) => s.release()));
  });

  t.test('an image missing on one engine is copied from the other at start', async (t) => {
    const a = fake('a');
    const b = fake('b', {});
    const pool = await startPool(t, { engines: [a, b], warm: 1, max: 2 });
    t.equal(b.calls.loadImage, 1);
    t.equal(a.calls.exportImage, 1);
    t.equal(b.images.get(BASE), 'sha256:base');
    await pool.waitWarm(2, 2_000);
    t.equal(running(b), 1, 'and sandboxes run there');
  });

  t.test('environment images given at start are copied to an engine that lacks them', async (t) => {
    const a = fake('a');
    const b = fake('b', { [BASE]: 'sha256:base' });
    const pool = await startPool(t, { engines: [a, b], images: [ENV], warm: 0, max: 2 });
    await eventually(t, 'copied in the background', () => b.images.get(ENV) === 'sha256:env');
    t.equal(b.calls.loadImage, 1);
    t.equal(pool.stats().warm, 0);
  });

  t.test(
    'waiters whose starts keep failing on both engines do not hammer them',
    async (t) => {
      const a = fake('a');
      const b = fake('b');
      const pool = await startPool(t, { engines: [a, b], warm: 0, max: 1 });
      const leases = [await pool.acquire(), await pool.acquire()];
      const waiters = [track(pool.acquire({ waitMs: 1_000 })), track(pool.acquire({ waitMs: 1_000 }))];
      a.failCreates(100_000);
      b.failCreates(100_000);
      const before = a.calls.create + b.calls.create;
      await Promise.all(leases.map((s) => s.release()));
      await delay(300);
      const creates = a.calls.create + b.calls.create - before;
      t.ok(creates <= 8, `creates in 300 ms for two waiters: ${creates}`);
      await eventually(t, 'both waiters get an answer', () => waiters.every((w) => w.settled), 2_000);
    },
  );

  // Start failures that say nothing about the engine (as a broken image gives): the waiter's
  // answer, even with room on both engines, where retrying went back and forth for ever.
  const brokenStarts = [
    { what: 'every create fails', message: /injected create failure/, breaks: (e: FakeEngine) => e.failCreates(1e9), mends: (e: FakeEngine) => e.failCreates(0) },
    { what: 'no executor says ready', message: /did not report ready/, breaks: (e: FakeEngine) => e.silentCreates(1e9), mends: (e: FakeEngine) => e.silentCreates(0) },
  ];
  for (const broken of brokenStarts) {
    t.test(`a waiter whose start fails on two engines with room gets the error at once (${broken.what})`, async (t) => {
      const a = fake('a');
      const b = fake('b');
      const pool = await startPool(t, { engines: [a, b], warm: 0, max: 2, readyTimeoutMs: 30 });
      const leases = await Promise.all([1, 2, 3, 4].map(() => pool.acquire()));
      const waiter = track(pool.acquire({ waitMs: 10_000 }));
      // Both engines go down and their slots come free: nothing to start on until they rejoin.
      a.down();
      b.down();
      await eventually(t, 'both marked down', () => pool.stats().engines?.a?.up === false && pool.stats().engines?.b?.up === false);
      await Promise.all(leases.map((s) => s.release()));
      t.notOk(waiter.settled, 'the waiter waits for an engine');
      broken.breaks(a);
      broken.breaks(b);
      // With some latency both rejoin in one probe round, before either start fails: each has
      // room when the other's start fails.
      a.latencyMs = b.latencyMs = 10;
      const before = a.calls.create + b.calls.create;
      a.up();
      b.up();
      await eventually(t, 'the waiter gets an answer', () => waiter.settled, 1_000);
      t.match(waiter.error, { code: 'HGYM_ERR_SANDBOX_START', message: broken.message }, 'the start error, not a capacity timeout');
      t.match(pool.stats().engines, { a: { up: true }, b: { up: true } }, 'neither engine is taken for down');
      await delay(100);
      // One start on each rejoined engine at most, and none after the answer.
      const creates = a.calls.create + b.calls.create - before;
      t.ok(creates >= 1 && creates <= 2, `creates for one waiter: ${creates}`);

      broken.mends(a);
      broken.mends(b);
      a.latencyMs = b.latencyMs = 0;
      const s = await pool.acquire({ waitMs: 1_000 });
      t.match(await exec(s), { exitCode: 0 }, 'the pool still serves');
      await s.release();
      await pool.close();
      // The outage's containers are left for a reap past their start grace; nothing else.
      const left = [...a.containers(), ...b.containers()].map((c) => c.id).sort();
      t.same(left, leases.map((l) => (l as Sandbox & { id: string }).id).sort(), 'closes clean');
    });
  }

  t.test('a start refused by its engine marks it down at once, and the acquire goes to the other', async (t) => {
    const a = fake('a');
    const b = fake('b');
    // No probe runs within the test: only the refused start can tell the pool that a is down.
    const pool = await startPool(t, { engines: [a, b], warm: 0, max: 2, probeMs: 60_000 });
    a.down();
    const s = await pool.acquire({ waitMs: 0 });
    t.equal(a.calls.create, 1, 'the acquire went to a first');
    t.ok(holds(b, s), 'and was served by b');
    t.equal(a.calls.ping, 1, 'without a probe (the one ping is at start)');
    t.match(pool.stats().engines, { a: { up: false, down_reason: /ECONNREFUSED/ }, b: { up: true, leased: 1 } });
    t.match(await exec(s), { exitCode: 0 });
    await s.release();
    const next = await pool.acquire({ waitMs: 0 });
    t.ok(holds(b, next), 'later acquires go to b alone');
    t.equal(a.calls.create, 1);
    await next.release();
  });

  t.test('a waiter whose start is refused waits on for the other engine', async (t) => {
    const a = fake('a');
    const b = fake('b');
    const pool = await startPool(t, { engines: [a, b], warm: 0, max: 1, probeMs: 60_000 });
    const onA = await pool.acquire();
    const onB = await pool.acquire();
    t.ok(holds(a, onA) && holds(b, onB));
    const waiter = track(pool.acquire({ waitMs: 5_000 }));
    a.down();
    const createsBefore = a.calls.create;
    // a's slot comes free, the waiter's start goes there and is refused.
    await onA.release();
    await eventually(t, 'a marked down', () => pool.stats().engines?.a?.up === false);
    t.equal(a.calls.create, createsBefore + 1, 'the waiter was tried on a');
    await delay(50);
    t.notOk(waiter.settled, "a refusal is not the waiter's answer");
    await onB.release();
    await eventually(t, 'the waiter is served', () => waiter.settled);
    t.ok(waiter.sandbox && holds(b, waiter.sandbox), `served by b (${waiter.error?.message ?? 'no error'})`);
    await waiter.sandbox?.release();
  });

  t.test('a release on an engine that is down leaves its container to the reap at rejoin', async (t) => {
    const a = new PastGraceEngine('a', { [BASE]: 'sha256:base' });
    const b = fake('b');
    const pool = await startPool(t, { engines: [a, b], warm: 0, max: 1 });
    const s = await pool.acquire();
    t.ok(holds(a, s));
    a.down();
    await eventually(t, 'a marked down', () => pool.stats().engines?.a?.up === false);
    const removes = a.calls.remove;
    await s.release();
    await delay(20);
    t.equal(a.calls.remove, removes, 'no remove is sent to an engine that is down');
    t.ok(holds(a, s), 'its container stays there meanwhile');
    t.match(pool.stats().engines?.a, { leased: 0 }, 'and is no longer held');
    a.up();
    await eventually(t, 'a rejoins', () => pool.stats().engines?.a?.up === true);
    t.notOk(holds(a, s), 'the reap at rejoin removed it');
    t.equal(a.calls.remove, removes + 1);
  });

  t.test('an engine that goes down and comes back', async (t) => {
    const a = fake('a');
    const b = fake('b');
    const pool = await startPool(t, { engines: [a, b], warm: 1, max: 3 });
    await pool.waitWarm(2, 2_000);
    const leases = await Promise.all([1, 2, 3, 4].map(() => pool.acquire()));
    const onA = leases.filter((s) => holds(a, s));
    const onB = leases.filter((s) => holds(b, s));
    t.equal(onA.length, 2);

    a.down();
    for (const s of onA) await t.rejects(exec(s), { code: 'HGYM_ERR_SANDBOX_LOST' });
    for (const s of onB) t.match(await exec(s), { exitCode: 0 }, 'sandboxes on the other engine go on');
    await eventually(t, 'a marked down', () => pool.stats().engines?.a?.up === false);
    t.match(pool.stats().engines?.a, { up: false, down_reason: /ECONNREFUSED/ });
    t.ok((pool.stats().engines?.a?.lost ?? 0) >= 2, 'its sandboxes count as lost');
    const fresh = await pool.acquire();
    t.ok(holds(b, fresh), 'a new acquire goes to the engine that answers');
    await fresh.release();
    await eventually(t, 'b refilled', () => pool.stats().engines?.b?.warm === 1);

    // While a is down: an own container past the start grace (lost track of in an earlier
    // outage), and one of another server. The first is reaped on rejoin, the second is not.
    const stale = a.plant(ownerLabels(pool.owner.id, Date.now() - START_GRACE_MS - 1_000, HOUR));
    const foreign = a.plant(ownerLabels('another-server', Date.now() - START_GRACE_MS - 1_000, HOUR));
    const exitedBefore = a.containers().filter((c) => c.state === 'exited').map((c) => c.id);
    const createsBefore = a.calls.create;
    a.up();
    await eventually(t, 'a rejoins', () => pool.stats().engines?.a?.up === true);
    await eventually(t, 'a warm again', () => pool.stats().engines?.a?.warm === 1, 3_000);
    t.ok(a.calls.create > createsBefore, 'new sandboxes are created on it');
    const ids = a.containers().map((c) => c.id);
    t.notOk(ids.includes(stale), 'an own container nobody holds is reaped');
    t.ok(ids.includes(foreign), "another server's running container is left alone");
    // Within the start grace, own containers from just before the outage stay until a later sweep.
    t.ok(exitedBefore.every((id) => ids.includes(id)), 'recent own containers wait for the start grace');

    for (const s of onA) await s.release();
    for (const s of onB) await s.release();
    const onAgain = await Promise.all([1, 2, 3, 4].map(() => pool.acquire()));
    t.ok(onAgain.some((s) => holds(a, s)), 'the rejoined engine serves acquires');
    await Promise.all(onAgain.map((s) => s.release()));
  });

  t.test('close removes every container the pool started on every engine', async (t) => {
    const a = fake('a');
    const b = fake('b');
    const pool = await startPool(t, { engines: [a, b], warm: 2, max: 3 });
    await pool.waitWarm(4, 2_000);
    const s = await pool.acquire();
    const closing = pool.close();
    await s.release();
    await closing;
    t.same([...a.containers(), ...b.containers()], []);
  });
});
