/**
 * Removing a pool's orphans on one engine: labelled containers that the pool does not hold and
 * whose owner is gone, that were never started, or that outlived their lifetime (owner.ts decides
 * which). Containers without the owner label are never touched.
 */
import type { Logger } from 'pino';
import { LABEL_OWNER, orphanReason } from './owner.js';
import type { EngineState } from './pool-state.js';

/** Ids of the containers the pool holds on an engine: starting, warm, being checked, leased and being removed. */
function held(e: EngineState): Set<string> {
  const ids = new Set<string>([...e.startingIds, ...e.checking, ...e.removing.keys()]);
  for (const s of e.images.values()) {
    for (const w of s.warm) ids.add(w.id);
    for (const l of s.leased) ids.add(l.id);
  }
  return ids;
}

/** Removes labelled containers nobody holds on one engine, with `remove`; how many. */
export async function reapEngine(e: EngineState, ownerId: string, remove: (id: string) => Promise<void>, log: Logger): Promise<number> {
  const list = await e.engine.list(LABEL_OWNER);
  const ids = held(e);
  const now = Date.now();
  let removed = 0;
  await Promise.all(
    list.map(async (info) => {
      const why = orphanReason(info, ownerId, ids.has(info.id), now);
      if (why === null) return;
      log.info({ engine: e.engine.name, container_id: info.id.slice(0, 12), owner: info.labels[LABEL_OWNER], why }, 'removing orphaned sandbox');
      await remove(info.id);
      removed++;
    }),
  );
  return removed;
}
