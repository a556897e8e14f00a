/**
 * Who owns a container. Every sandbox container is labelled with its owner, the random id of
 * the server instance that made it, when it was created and when it expires. Reaping is keyed on
 * those labels and the container's state alone, never on a host name or process id: two servers
 * with one host name (in different PID namespaces, or on different machines sharing an engine)
 * must never take each other's live containers for orphans. Containers without the owner label
 * are never touched.
 *
 * A server's own containers end by themselves when it dies: the executor's stdin is the server's
 * attach connection (StdinOnce), and the engine removes an exited sandbox (AutoRemove). What is
 * left for a reaper is a container created but never started (its owner died between the two),
 * one that exited without being removed, and one past its maximum lifetime.
 */
export const LABEL_OWNER = 'hgym.owner';
export const LABEL_CREATED = 'hgym.created';
export const LABEL_EXPIRES = 'hgym.expires';

/**
 * How long a created container may wait to be started by its owner; past it, anyone may remove
 * it. On a loaded engine the start call alone can take many seconds, and a container taken in the
 * middle of it fails its episode's reset; an owner counts its own starting containers as held.
 */
export const START_GRACE_MS = 40_000;

export function ownerLabels(ownerId: string, createdAtMs: number, lifetimeMs: number): Record<string, string> {
  return { [LABEL_OWNER]: ownerId, [LABEL_CREATED]: String(createdAtMs), [LABEL_EXPIRES]: String(createdAtMs + lifetimeMs) };
}

export interface LabelledContainer {
  labels: Record<string, string>;
  /** The engine's state: `created`, `running`, `exited`, `dead`, ... */
  state: string;
}

function timeLabel(labels: Record<string, string>, name: string): number | null {
  const at = Number(labels[name]);
  return Number.isFinite(at) && at > 0 ? at : null;
}

/**
 * Why a labelled container may be removed by the server `selfId`, or null when it must be left
 * alone. `tracked` says whether `selfId` holds it (warm, starting or leased): an own container it
 * does not hold, once past the start grace, was lost track of (its engine went down and came back).
 */
export function orphanReason(container: LabelledContainer, selfId: string, tracked: boolean, nowMs: number): string | null {
  const { labels, state } = container;
  const owner = labels[LABEL_OWNER];
  if (!owner) return null;
  const expires = timeLabel(labels, LABEL_EXPIRES);
  if (expires !== null && expires < nowMs) return 'past its maximum lifetime';
  const created = timeLabel(labels, LABEL_CREATED);
  const settled = created === null || created + START_GRACE_MS < nowMs;
  if (owner === selfId) return tracked || !settled ? null : 'this server no longer holds it';
  if (state === 'exited' || state === 'dead') return `${state} and not removed`;
  if (state === 'created' && settled) return 'created but never started by its owner';
  return null;
}
