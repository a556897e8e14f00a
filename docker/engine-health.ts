/**
 * Whether each engine of a pool answers. An engine is pinged now and then; after enough failed
 * pings in a row (at once when its connection is refused) it is marked down and its sandboxes are
 * lost; once it answers again it is readied and rejoins. What the pool does around these changes
 * (refilling, serving waiters elsewhere) is its own, through the hooks.
 */
import type { Logger } from 'pino';
import type { EngineState } from './pool-state.js';

export interface EngineHealthOptions {
  engines: readonly EngineState[];
  probeTimeoutMs: number;
  /** Failed pings in a row after which an engine is down. */
  probeFailures: number;
  log: Logger;
}

export interface EngineHealthHooks {
  /** Whether the pool is closed: then nothing is probed and nothing rejoins. */
  closed(): boolean;
  /** Readies an engine that answers again, before it counts as up (its image present, its old containers removed). */
  prepare(e: EngineState): Promise<void>;
  /** After an engine rejoined. */
  rejoined(e: EngineState): void;
  /** After an engine went down and its sandboxes were lost. */
  down(e: EngineState): void;
}

export class EngineHealth {
  constructor(
    private readonly options: EngineHealthOptions,
    private readonly hooks: EngineHealthHooks,
  ) {}

  /** Pings every engine once and marks down those that do not answer; each engine's error, or null. */
  async pingAll(): Promise<(Error | null)[]> {
    const { engines, probeTimeoutMs } = this.options;
    const answers = await Promise.all(engines.map((e) => e.engine.ping(probeTimeoutMs).then(() => null, (err: Error) => err)));
    answers.forEach((err, i) => {
      if (err) this.markDown(engines[i]!, err.message);
    });
    return answers;
  }

  probeAll(): void {
    for (const e of this.options.engines) void this.probe(e);
  }

  /** Pings an engine: marks it down after enough failures, and lets it rejoin when it answers again. */
  async probe(e: EngineState): Promise<void> {
    if (e.probing || this.hooks.closed()) return;
    e.probing = true;
    try {
      await e.engine.ping(this.options.probeTimeoutMs);
      e.probeFailures = 0;
      if (!e.up && !this.hooks.closed()) await this.rejoin(e);
    } catch (err) {
      const refused = /ECONNREFUSED|ENOENT|EPIPE|ECONNRESET/.test((err as Error).message);
      if (e.up && (refused || ++e.probeFailures >= this.options.probeFailures)) this.markDown(e, (err as Error).message);
    } finally {
      e.probing = false;
    }
  }

  /** An engine stopped answering: its sandboxes are lost, and acquires go elsewhere until it rejoins. */
  markDown(e: EngineState, reason: string): void {
    if (!e.up) return;
    e.up = false;
    e.downReason = reason;
    e.present.clear();
    this.options.log.error({ engine: e.engine.name, reason }, 'a container engine stopped answering; its sandboxes are lost');
    const why = `the container engine ${e.engine.name} stopped answering: ${reason}`;
    for (const s of e.images.values()) {
      for (const warm of s.warm.splice(0)) warm.conn.close(why);
      for (const leased of s.leased) leased.lose(why);
    }
    this.hooks.down(e);
  }

  private async rejoin(e: EngineState): Promise<void> {
    await this.hooks.prepare(e);
    e.up = true;
    e.downReason = null;
    e.probeFailures = 0;
    this.options.log.warn({ engine: e.engine.name }, 'a container engine answers again and rejoins the pool');
    this.hooks.rejoined(e);
  }
}
