/**
 * An engine's container removals, in turn: at most `pace().most` at once (the pool's
 * removePace, re-read whenever one may start), or out of turn when asked `now`. While episodes
 * run on the engine a removal may also be held back: it waits until it has waited `holdMs`, or
 * until more than `backlog` wait (the oldest goes first), or until the pace changes (the last
 * episode there ended, the pool closes). A container asked for again while its removal is
 * pending gets the same removal.
 */
import type { EngineState } from './pool-state.js';

export interface RemovalPace {
  /** Removals running at once, at most. */
  readonly most: number;
  /** How long a removal may be held back (0: none is). */
  readonly holdMs: number;
  /** How many may be held back at once. */
  readonly backlog: number;
}

export function removeInTurn(e: EngineState, id: string, pace: () => RemovalPace, now: boolean, onError: (err: Error) => void): Promise<void> {
  const pending = e.removing.get(id);
  if (pending) return pending;
  const removal = (async () => {
    await new Promise<void>((go) => {
      if (now) {
        e.removesRunning++;
        return go();
      }
      e.removeQueue.push({ go, at: Date.now() });
      pumpRemovals(e, pace);
    });
    try {
      await e.engine.remove(id);
    } catch (err) {
      onError(err as Error);
    } finally {
      e.removesRunning--;
      e.removing.delete(id);
      pumpRemovals(e, pace);
    }
  })();
  e.removing.set(id, removal);
  return removal;
}

/**
 * Lets removals waiting on `e` go, as many as may run now; when the first of those held back
 * falls due, it looks again.
 */
export function pumpRemovals(e: EngineState, pace: () => RemovalPace): void {
  const { most, holdMs, backlog } = pace();
  const now = Date.now();
  const due = (first: { at: number }) => e.removeQueue.length > backlog || now - first.at >= holdMs;
  while (e.removesRunning < most && e.removeQueue.length > 0 && due(e.removeQueue[0]!)) {
    e.removesRunning++;
    e.removeQueue.shift()!.go();
  }
  if (e.removeTimer) clearTimeout(e.removeTimer);
  e.removeTimer = null;
  const first = e.removeQueue[0];
  if (first && e.removesRunning < most) {
    e.removeTimer = setTimeout(() => pumpRemovals(e, pace), Math.max(1, first.at + holdMs - now));
    e.removeTimer.unref();
  }
}
