/**
 * The SandboxPool adapter over container engines: warm pools of started, ready containers, one per
 * episode and never reused, refilled in the background (gently while episodes run on the engine,
 * so that their steps keep the CPU, and not while a burst of resets comes in: refill-hold.ts),
 * spread over one or more engines. Each engine keeps its own
 * capacity (`max`) and its own warm sandboxes: the base sandbox image's, and one set per
 * environment image sized by that environment's recent demand on it (warm-targets.ts).
 * An episode stays on the engine of its sandbox. An engine that stops answering is marked down:
 * its sandboxes are lost (their episodes end with HGYM_ERR_SANDBOX_LOST), new acquires go to the
 * other engines, and it is probed until it answers and rejoins.
 *
 * This module schedules: acquires, warm sets, waiters, refill and close. Around it: the options'
 * defaults (pool-settings.ts), engine health (engine-health.ts), making images present on engines
 * (image-presence.ts), removing orphans (orphans.ts), the waiter queue (waiters.ts), counts over
 * the engines (pool-counts.ts) and the change signal waits resolve by (change-signal.ts).
 */
import { pino, type Logger } from 'pino';
import { v4 as uuidv4 } from 'uuid';
import { hgymError, HgymError } from '../env/errors.js';
import type { AcquireOptions, PoolStats, Sandbox, SandboxPool } from '../env/sandbox.js';
import { ChangeSignal } from './change-signal.js';
import { startSandbox } from './container.js';
import { DockerEngine } from './engine.js';
import { EngineHealth } from './engine-health.js';
import { ImagePresence } from './image-presence.js';
import { reapEngine } from './orphans.js';
import { ownerLabels } from './owner.js';
import { Budget } from '../env/budget.js';
import { LeasedSandbox, WarmContainer } from './sandbox.js';
import { baseTarget, environmentTargets, priorTarget } from './warm-targets.js';
import { countOf, leasedCount, poolStats } from './pool-counts.js';
import type { DockerPoolOptions } from './pool-options.js';
import { poolSettings, refillConcurrency, removePace, type PoolSettings } from './pool-settings.js';
import { downReasons, emptySlots, newEngineState, slotsOf, sum, totalOf, warmestEngine, type EngineState, type ImageSlots } from './pool-state.js';
import { RefillHold } from './refill-hold.js';
import { WaiterQueue } from './waiters.js';
import { pumpRemovals, removeInTurn } from './removals.js';

export type { DockerPoolOptions } from './pool-options.js';
export { DEFAULT_IMAGE } from './pool-settings.js';

/** How often warm targets are recomputed without an acquire, so that idle demand decays. */
const REBALANCE_MS = 5_000;
/** How often each engine is looked through for containers nobody holds. */
const REAP_MS = 10_000;

export class DockerSandboxPool implements SandboxPool {
  readonly owner: { readonly id: string };
  readonly image: string;
  private readonly engines: EngineState[];
  private readonly presence: ImagePresence;
  private readonly health: EngineHealth;
  private readonly settings: PoolSettings;
  private readonly log: Logger;

  private readonly waiters = new WaiterQueue();
  /** Notified whenever a count that waitWarm or close waits on may have changed. */
  private readonly changes = new ChangeSignal(() => this.closed);
  private readonly timers: NodeJS.Timeout[] = [];
  private closing: Promise<void> | null = null;
  private destroying: Promise<void> | null = null;
  private startsSettled: Promise<void> = Promise.resolve();
  private readonly removals = new Set<Promise<void>>();
  private readonly refillHold: RefillHold;

  private constructor(options: DockerPoolOptions) {
    this.settings = poolSettings(options);
    this.image = this.settings.image;
    const { policy, probeTimeoutMs, probeFailures } = this.settings;
    this.owner = { id: options.ownerId ?? uuidv4() };
    this.log = (options.logger ?? pino({ level: process.env.HGYM_LOG_LEVEL ?? 'warn' })).child({ pool: this.owner.id });
    const engines = options.engines ?? [DockerEngine.local()];
    if (engines.length === 0) throw hgymError('HGYM_ERR_BAD_REQUEST', 'a sandbox pool needs at least one container engine');
    const environments = (): ImageSlots[] => [...policy.shares.keys()].map((image) => emptySlots(image, priorTarget(policy, image)));
    this.engines = engines.map((engine) => newEngineState(engine, emptySlots(this.image, baseTarget(policy)), environments(), new Budget(this.settings.unpackConcurrency)));
    this.refillHold = new RefillHold(this.settings.refillQuietMs, this.settings.refillHoldMaxMs);
    this.presence = new ImagePresence({
      engines: this.engines,
      imageSource: options.imageSource ?? null,
      environmentImages: this.settings.environmentImages,
      log: this.log,
    });
    this.health = new EngineHealth(
      { engines: this.engines, probeTimeoutMs, probeFailures, log: this.log },
      {
        closed: () => this.closed,
        prepare: async (e) => {
          await this.presence.ensure(e, this.image);
          // What it held before it went down is nobody's now: its containers are removed (with the
          // start grace, those created just before it went down go at a later sweep).
          await this.reap(e);
        },
        rejoined: (e) => {
          this.presence.copyEnvironments(e);
          this.notify();
          this.handOff();
        },
        down: () => {
          this.notify();
          // Waiters may now be served by the engines that are left.
          this.handOff();
        },
      },
    );
  }

  /**
   * Checks the engines and the image, makes the image present on every engine that answers,
   * removes containers nobody holds, and starts filling the warm pools (without waiting for them).
   * At least one engine must answer; the others start out down and are probed.
   */
  static async start(options: DockerPoolOptions = {}): Promise<DockerSandboxPool> {
    const pool = new DockerSandboxPool(options);
    const answers = await pool.health.pingAll();
    const up = pool.engines.filter((e) => e.up);
    if (up.length === 0) throw hgymError('HGYM_ERR_DOCKER_UNAVAILABLE', answers.map((e) => e?.message).join('; '));
    const results = await Promise.allSettled(up.map((e) => pool.presence.ensure(e, pool.image)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason as Error;
    await Promise.all(up.map((e) => pool.reap(e)));
    for (const e of up) pool.presence.copyEnvironments(e);
    pool.fill();
    pool.every(Math.max(100, Math.min(REBALANCE_MS, pool.settings.policy.windowMs / 2)), () => pool.rebalance());
    // Again now and then: an owner killed while an engine was still creating one of its
    // containers leaves it behind after the first sweep.
    pool.every(REAP_MS, () => {
      for (const e of pool.engines) if (e.up) pool.reap(e).catch((err: unknown) => pool.log.warn({ err, engine: e.engine.name }, 'removing orphaned sandboxes failed'));
    });
    pool.every(pool.settings.probeMs, () => pool.health.probeAll());
    return pool;
  }

  private every(ms: number, run: () => void): void {
    this.timers.push(setInterval(run, ms).unref());
  }

  private stopped = false;
  /** Whether close() or destroy() was called (set as either begins): no acquire is served any more. */
  get closed(): boolean {
    return this.stopped;
  }

  /** Whether destroy() was called: every sandbox is being removed, leased ones too. */
  get destroyed(): boolean {
    return this.destroying !== null;
  }

  stats(): PoolStats {
    return poolStats(this.engines, this.settings.max);
  }

  private notify(): void {
    this.changes.notify();
  }

  /** Resolves once `count` containers of `image` are ready on all engines together (or rejects after timeoutMs). */
  waitWarm(count = this.engines.filter((e) => e.up).length * this.engines[0]!.base.target, timeoutMs = 60_000, image = this.image): Promise<void> {
    return this.changes.until(
      () => countOf(this.engines, image, (s) => s.warm.length) >= count,
      timeoutMs,
      () => hgymError('HGYM_ERR_SANDBOX_START', `fewer than ${count} warm sandboxes after ${timeoutMs} ms`),
    );
  }

  /** Resolves once every image on every engine that answers has its warm target ready (or rejects after timeoutMs). */
  waitTargets(timeoutMs = 60_000): Promise<void> {
    const short = (): string[] =>
      this.engines.filter((e) => e.up).flatMap((e) => [...e.images.values()].filter((s) => s.warm.length < s.target).map((s) => `${e.engine.name} ${s.image}: ${s.warm.length} of ${s.target}`));
    return this.changes.until(
      () => short().length === 0,
      timeoutMs,
      () => hgymError('HGYM_ERR_SANDBOX_START', `warm targets not met after ${timeoutMs} ms (${short().join('; ')})`),
    );
  }

  /** Removes labelled containers nobody holds on one engine (owner.ts says which); never unlabelled ones. */
  private reap(e: EngineState): Promise<number> {
    // Out of turn: what runs in an orphan is nobody's to hold back.
    return reapEngine(e, this.owner.id, (id) => this.remove(e, id, true), this.log);
  }

  /** Removes containers nobody holds on every engine that answers; how many. */
  async reapOrphans(): Promise<number> {
    const counts = await Promise.all(this.engines.filter((e) => e.up).map((e) => this.reap(e)));
    return counts.reduce((a, b) => a + b, 0);
  }

  async acquire(options: AcquireOptions = {}): Promise<Sandbox> {
    options.signal?.throwIfAborted();
    if (this.closed) throw hgymError('HGYM_ERR_POOL_CLOSED');
    const image = options.image ?? this.image;
    // A warm container on the engine that has most of them; looked up again after each await.
    for (let e = warmestEngine(this.engines, image); e; e = warmestEngine(this.engines, image)) {
      // No refill until it is leased (lease() refills): while it is checked it is in no count,
      // and a refill now would take its slot too and go above max. The reaper knows it meanwhile.
      const candidate = slotsOf(e, image).warm.shift()!;
      const fresh = Date.now() - candidate.createdAt < this.settings.limits.lifetimeMs / 2;
      e.checking.add(candidate.id);
      const answers = fresh && (await candidate.check());
      e.checking.delete(candidate.id);
      if (answers && !this.closed && e.up) return this.lease(e, image, candidate);
      this.discard(e, candidate, fresh ? 'failed its readiness check' : 'too close to its maximum lifetime');
    }
    if (this.closed) throw hgymError('HGYM_ERR_POOL_CLOSED');
    if (!this.engines.some((e) => e.up)) throw hgymError('HGYM_ERR_DOCKER_UNAVAILABLE', downReasons(this.engines));
    const e = this.roomFor(image);
    if (!e) return this.waiters.wait(image, options, this.settings.max * this.engines.filter((o) => o.up).length);
    try {
      return this.lease(e, image, await this.startOne(e, slotsOf(e, image)));
    } catch (err) {
      // Its slot is free again, and a waiter of another image may be able to use it.
      this.handOff();
      // An engine that refused is down now: the acquire goes to another (each retry takes one
      // engine out, so this ends).
      if (!e.up && !this.closed && this.engines.some((o) => o.up)) return this.acquire(options);
      throw err;
    }
  }

  /**
   * The engine a new container of `image` starts on now: the one that answers with most free
   * slots; else one where a warm container of another image gives up its slot (the last image in
   * refill order, its oldest container): an episode asking now comes before one that may ask later.
   */
  private roomFor(image: string): EngineState | undefined {
    const up = this.engines.filter((e) => e.up);
    let best: EngineState | undefined;
    for (const e of up) if (totalOf(e) < this.settings.max && (!best || totalOf(e) < totalOf(best))) best = e;
    if (best) return best;
    for (const e of up) {
      const victim = [...e.images.values()].reverse().find((s) => s.image !== image && s.warm.length > 0);
      if (victim) {
        this.discard(e, victim.warm.shift()!, `a sandbox of ${image} needs its slot`);
        return e;
      }
    }
    return undefined;
  }

  /** Every served acquire goes through here, so this is where demand is counted. */
  private lease(e: EngineState, image: string, warm: WarmContainer): LeasedSandbox {
    const slots = slotsOf(e, image);
    const sandbox = warm.lease((s) => this.onRelease(e, slots, s), e.unpacks, (shares) => e.engine.setCpuShares(warm.id, shares));
    slots.leased.add(sandbox);
    sandbox.onLost((reason) => {
      if (!slots.leased.has(sandbox)) return;
      e.counters.lost++;
      this.log.warn({ engine: e.engine.name, container_id: sandbox.id.slice(0, 12), image, reason }, 'leased sandbox lost');
    });
    if (slots !== e.base) slots.demand.push(Date.now());
    this.refillHold.leased(Date.now());
    this.rebalance();
    this.notify();
    return sandbox;
  }

  private async onRelease(e: EngineState, slots: ImageSlots, sandbox: LeasedSandbox): Promise<void> {
    slots.leased.delete(sandbox);
    this.notify();
    // On an engine that is down the call could only fail (or hang); the container is reaped when it rejoins.
    // One its release could not halt (or whose executor is gone) is removed at once, out of turn. Not
    // awaited: the release is done once the sandbox is halted and given back.
    if (e.up) void this.remove(e, sandbox.id, !sandbox.halted);
    this.handOff();
  }

  private discard(e: EngineState, warm: WarmContainer, why: string): void {
    this.log.info({ engine: e.engine.name, container_id: warm.id.slice(0, 12), why }, 'discarding warm sandbox');
    warm.conn.close(why);
    if (e.up) void this.remove(e, warm.id);
    this.notify();
  }

  /** Removes a container in its turn (docker/removals.ts), or `now`; tracked so that close() and destroy() can wait for it. */
  private remove(e: EngineState, id: string, now = false): Promise<void> {
    const removal = removeInTurn(e, id, () => removePace(this.settings, sum(e, (s) => s.leased.size), this.closed), now, (err) => {
      this.log.warn({ engine: e.engine.name, container_id: id.slice(0, 12), err: err.message }, 'removing a container failed');
    });
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
    return removal;
  }

  /** Starts one ready container of `slots`' image on an engine; counts it as starting meanwhile. */
  private async startOne(e: EngineState, slots: ImageSlots): Promise<WarmContainer> {
    slots.starting++;
    let createdId: string | null = null;
    const started = (async () => {
      if (slots !== e.base) await this.presence.ensure(e, slots.image);
      return startSandbox(
        e.engine,
        {
          image: slots.image,
          limits: this.settings.limits,
          labels: ownerLabels(this.owner.id, Date.now(), this.settings.limits.lifetimeMs),
          ...(this.settings.bases === undefined ? {} : { bases: this.settings.bases }),
        },
        this.settings.readyTimeoutMs,
        (line) => this.log.warn({ source: 'executor', engine: e.engine.name }, line),
        (id) => {
          createdId = id;
          e.startingIds.add(id);
        },
      );
    })();
    this.startsSettled = Promise.all([this.startsSettled, started.catch(() => {})]).then(() => {});
    try {
      const { id, conn, ready } = await started;
      e.counters.created++;
      slots.failureStreak = 0;
      const warm = new WarmContainer(id, conn, Date.now(), new Set(ready.bases));
      void warm.stage(this.settings.stages.get(slots.image)); // in the background: requests wait their turn behind it
      conn.onLost((reason) => this.onWarmLost(e, slots.image, warm, reason));
      if (this.closed || !e.up) {
        this.discard(e, warm, this.closed ? 'the pool closed while it started' : 'its engine went down while it started');
        throw hgymError(this.closed ? 'HGYM_ERR_POOL_CLOSED' : 'HGYM_ERR_DOCKER_UNAVAILABLE', this.closed ? undefined : `${e.engine.name}: ${e.downReason ?? ''}`);
      }
      return warm;
    } catch (err) {
      if (!(err instanceof HgymError && err.code === 'HGYM_ERR_POOL_CLOSED')) e.counters.failed++;
      // The engine refused the connection (or its socket is gone): it is down, without waiting for a probe.
      if (err instanceof HgymError && err.code === 'HGYM_ERR_DOCKER_UNAVAILABLE' && e.up && !this.closed) this.health.markDown(e, err.message);
      throw err;
    } finally {
      slots.starting--;
      if (createdId !== null) e.startingIds.delete(createdId);
      this.notify();
    }
  }

  private onWarmLost(e: EngineState, image: string, warm: WarmContainer, reason: string): void {
    const slots = e.images.get(image);
    const i = slots?.warm.indexOf(warm) ?? -1;
    if (!slots || i < 0) return;
    slots.warm.splice(i, 1);
    e.counters.lost++;
    this.log.warn({ engine: e.engine.name, container_id: warm.id.slice(0, 12), image, reason }, 'warm sandbox lost');
    if (e.up) void this.remove(e, warm.id);
    this.notify();
    this.handOff();
  }

  /**
   * A newly started container goes to the longest waiter of its image, or else into its warm
   * list. While a waiter of another image waits, a warm container would only hold its slot:
   * the slot goes to that waiter instead.
   */
  private deliver(e: EngineState, image: string, warm: WarmContainer): void {
    const waiter = this.waiters.of(image);
    if (waiter) return waiter.resolve(this.lease(e, image, warm));
    if (this.waiters.length > 0) {
      this.discard(e, warm, 'a sandbox of another image is waited for');
      return this.handOff();
    }
    const slots = slotsOf(e, image);
    slots.warm.push(warm);
    this.trim(e, slots);
    this.notify();
  }

  /** Gives a new container of its image to the first waiter, if any, on an engine with room; or refills. */
  private handOff(): void {
    const waiter = this.waiters.first();
    if (!waiter || this.closed) return this.fill();
    const e = this.roomFor(waiter.image);
    if (!e) return;
    const slots = slotsOf(e, waiter.image);
    this.startOne(e, slots).then(
      (warm) => this.deliver(e, slots.image, warm),
      (err: Error) => {
        // A start that failed because its engine is down (startOne marked it) is tried on another
        // engine; any other failure (a broken image, say) is the waiter's answer: retrying it on an
        // engine with room, this one or another, could go on for ever in a tight loop.
        if (e.up || !this.engines.some((o) => o.up)) this.waiters.of(slots.image)?.reject(err);
        this.handOff();
      },
    );
  }

  /**
   * Starts containers in the background until every image's warm target is met on every engine
   * that answers, in refill order, a few at a time (refillConcurrency). Not while anyone waits
   * (every free slot is a waiter's); while acquires come in, only empty images (refill-hold.ts).
   */
  private fill(): void {
    if (this.closed || this.waiters.length > 0) return;
    const holding = this.refillHold.defer(Date.now(), () => this.fill());
    for (const e of this.engines) {
      if (!e.up) continue;
      for (const slots of e.images.values()) {
        while (
          !slots.retryTimer &&
          !(holding && slots.warm.length + slots.starting > 0) &&
          slots.warm.length + slots.starting < slots.target &&
          totalOf(e) < this.settings.max &&
          sum(e, (s) => s.starting) < refillConcurrency(this.settings, sum(e, (s) => s.leased.size))
        ) {
          this.startOne(e, slots).then(
            (warm) => {
              this.deliver(e, slots.image, warm);
              this.fill();
            },
            (err: Error) => {
              if (this.closed || !e.up) return;
              // Back off so a broken engine or image is not hammered in a tight loop.
              const delay = Math.min(30_000, 250 * 2 ** Math.min(++slots.failureStreak, 7));
              this.log.error({ err, engine: e.engine.name, image: slots.image, retry_ms: delay }, 'starting a warm sandbox failed');
              slots.retryTimer = setTimeout(() => {
                slots.retryTimer = null;
                this.fill();
              }, delay);
              slots.retryTimer.unref();
              this.handOff();
            },
          );
        }
      }
    }
  }

  /** Removes an image's warm containers above its target, oldest first. */
  private trim(e: EngineState, slots: ImageSlots): void {
    while (slots.warm.length > slots.target) this.discard(e, slots.warm.shift()!, "above its image's warm target");
  }

  /** Recomputes every engine's warm targets (warm-targets.ts), trims, forgets idle environments, refills. */
  private rebalance(): void {
    if (this.closed) return;
    const now = Date.now();
    for (const e of this.engines) {
      const environments = [...e.images.values()].filter((s) => s !== e.base);
      const targets = environmentTargets(environments, this.settings.policy, now);
      for (const s of environments) {
        s.target = targets.get(s.image) ?? 0;
        this.trim(e, s);
      }
      this.trim(e, e.base);
      const live = environments.filter((s) => s.target + s.demand.length + s.warm.length + s.starting + s.leased.size > 0 || s.retryTimer !== null);
      e.images = new Map([e.base, ...live].map((s) => [s.image, s]));
    }
    this.fill();
  }

  close(): Promise<void> {
    if (this.destroying) return this.destroying;
    this.closing ??= this.drain();
    return this.closing;
  }

  /** Stops serving, waits (event-driven) for leased sandboxes to come back, then removes what is left. */
  private async drain(): Promise<void> {
    this.stopAccepting(hgymError('HGYM_ERR_POOL_CLOSED'));
    this.discardWarm('the pool is closing');
    await this.changes.until(() => leasedCount(this.engines) === 0, this.settings.drainTimeoutMs, () => new Error('drain timeout'), true).catch(() => {});
    await this.releaseAll();
    await this.startsSettled;
    await Promise.all(this.removals);
  }

  /** Removes every sandbox now, leased ones too; waiters are rejected with `reason` (or POOL_CLOSED). */
  destroy(reason?: Error): Promise<void> {
    this.destroying ??= (async () => {
      if (reason) this.log.error({ err: reason }, 'destroying sandbox pool');
      this.stopAccepting(reason ?? hgymError('HGYM_ERR_POOL_CLOSED'));
      this.discardWarm('the pool was destroyed');
      await this.releaseAll();
      await this.startsSettled;
      await Promise.all(this.removals);
      await this.closing;
    })();
    return this.destroying;
  }

  private discardWarm(why: string): void {
    for (const e of this.engines) for (const s of e.images.values()) for (const warm of s.warm.splice(0)) this.discard(e, warm, why);
  }

  private async releaseAll(): Promise<void> {
    await Promise.all(this.engines.flatMap((e) => [...e.images.values()].flatMap((s) => [...s.leased].map((l) => l.release()))));
  }

  private stopAccepting(reason: Error): void {
    this.stopped = true;
    this.refillHold.stop();
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    for (const e of this.engines) {
      for (const s of e.images.values()) {
        if (s.retryTimer) clearTimeout(s.retryTimer);
        s.retryTimer = null;
      }
      pumpRemovals(e, () => removePace(this.settings, sum(e, (s) => s.leased.size), this.closed)); // all that wait, now
    }
    this.waiters.rejectAll(reason);
    this.notify();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
