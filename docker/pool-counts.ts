/**
 * Counts over all of a pool's engines (pool-state.ts keeps them per engine): what stats() reports
 * and what waits on the pool wait for.
 */
import type { EngineStats, ImagePoolStats, PoolStats } from '../env/sandbox.js';
import { slotStats, sum, type EngineState, type ImageSlots } from './pool-state.js';

/** The pool's counts in all, per engine and per environment image; `max` is each engine's. */
export function poolStats(engines: readonly EngineState[], max: number): PoolStats {
  const environments: Record<string, ImagePoolStats> = {};
  const perEngine: Record<string, EngineStats> = {};
  const total = { target: 0, warm: 0, starting: 0, leased: 0, created: 0, lost: 0, failed: 0 };
  for (const e of engines) {
    const own = { target: e.up ? e.base.target : 0, warm: sum(e, (s) => s.warm.length), starting: sum(e, (s) => s.starting), leased: sum(e, (s) => s.leased.size) };
    perEngine[e.engine.name] = { up: e.up, ...(e.downReason ? { down_reason: e.downReason } : {}), max, ...slotStats(own), ...e.counters, removing: e.removing.size };
    for (const key of ['target', 'warm', 'starting', 'leased'] as const) total[key] += own[key];
    for (const key of ['created', 'lost', 'failed'] as const) total[key] += e.counters[key];
    for (const s of e.images.values()) {
      if (s === e.base) continue;
      const t = (environments[s.image] ??= { target: 0, warm: 0, starting: 0, leased: 0 });
      t.target += s.target;
      t.warm += s.warm.length;
      t.starting += s.starting;
      t.leased += s.leased.size;
    }
  }
  return { ...total, environments, engines: perEngine };
}

/** `count` of `image`'s slots, over every engine. */
export function countOf(engines: readonly EngineState[], image: string, count: (s: ImageSlots) => number): number {
  let n = 0;
  for (const e of engines) {
    const s = e.images.get(image);
    if (s) n += count(s);
  }
  return n;
}

/** Leased sandboxes of every image, over every engine. */
export function leasedCount(engines: readonly EngineState[]): number {
  let n = 0;
  for (const e of engines) n += sum(e, (s) => s.leased.size);
  return n;
}
