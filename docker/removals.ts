/**
 * An engine's container removals, in turn: at most `limit()` at once (the pool's
 * removeConcurrency, re-read whenever one may start), or out of turn when asked `now`. A
 * container asked for again while its removal is pending gets the same removal.
 */
import type { EngineState } from './pool-state.js';

export function removeInTurn(e: EngineState, id: string, limit: () => number, now: boolean, onError: (err: Error) => void): Promise<void> {
  const pending = e.removing.get(id);
  if (pending) return pending;
  const removal = (async () => {
    await new Promise<void>((go) => {
      if (now) {
        e.removesRunning++;
        return go();
      }
      e.removeQueue.push(go);
      pumpRemovals(e, limit);
    });
    try {
      await e.engine.remove(id);
    } catch (err) {
      onError(err as Error);
    } finally {
      e.removesRunning--;
      e.removing.delete(id);
      pumpRemovals(e, limit);
    }
  })();
  e.removing.set(id, removal);
  return removal;
}

/** Lets removals waiting on `e` go, as many as may run now. */
export function pumpRemovals(e: EngineState, limit: () => number): void {
  const most = limit();
  while (e.removesRunning < most && e.removeQueue.length > 0) {
    e.removesRunning++;
    e.removeQueue.shift()!();
  }
}
