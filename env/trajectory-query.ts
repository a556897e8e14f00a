/**
 * Questions asked of the trajectory log after the episodes are gone from memory: which ended
 * episodes pass a filter (newest first, a page at a time), one episode's record by id, and the
 * SFT export of a filtered set. Every answer streams the file; none holds more of it than one
 * page of summaries or one record.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { readLinesBackward, type DamagedLine, type LineAt } from './jsonl.js';
import { isTrajectoryRecord, passesFilter, readTrajectories, sftLines, type SftFilter, type Trajectory, type TrajectoryFilter } from './trajectory.js';
import type { TrajectorySummary } from '../schemas/trajectories.js';

/** A line of the log that is not a trajectory: where it starts (a byte offset) and why. */
export interface DamagedRecord {
  offset: number;
  reason: string;
}

export interface TrajectoryPage {
  trajectories: TrajectorySummary[];
  /** Where the next (older) page ends: pass it back as `before`; null once the log was read to its start. */
  next: number | null;
  /** Lines skipped on the way because they were not trajectories. */
  damaged: number;
}

/** An ended episode's row in a listing. */
export function summarize(trajectory: Trajectory): TrajectorySummary {
  const ended = trajectory.ended_at === null ? NaN : Date.parse(trajectory.ended_at);
  const duration = ended - Date.parse(trajectory.created_at);
  return {
    episode_id: trajectory.episode_id,
    task: trajectory.task,
    instance_id: trajectory.instance_id,
    status: trajectory.status,
    reward: trajectory.reward,
    steps: trajectory.steps.length,
    duration_ms: Number.isFinite(duration) ? duration : null,
    created_at: trajectory.created_at,
    ended_at: trajectory.ended_at,
  };
}

function parse(line: LineAt, onDamaged: (damaged: DamagedRecord) => void): Trajectory | null {
  let value: unknown;
  try {
    value = JSON.parse(line.bytes.toString('utf8'));
  } catch (err) {
    onDamaged({ offset: line.offset, reason: `not JSON (${(err as Error).message})` });
    return null;
  }
  if (isTrajectoryRecord(value)) return value;
  onDamaged({ offset: line.offset, reason: 'not a trajectory' });
  return null;
}

/** The log is not there (not written yet, or its folder is not one): it holds no record. */
function missing(err: unknown): boolean {
  const { code } = err as NodeJS.ErrnoException;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * Up to `limit` trajectories that pass the filter, newest first, among the records that start
 * before `before` (a byte offset a previous page answered as `next`; none: the whole log). A log
 * not written yet has none.
 */
export async function listTrajectories(
  file: string,
  filter: TrajectoryFilter,
  page: { limit: number; before?: number | undefined },
  onDamaged: (damaged: DamagedRecord) => void,
): Promise<TrajectoryPage> {
  const out: TrajectoryPage = { trajectories: [], next: null, damaged: 0 };
  const report = (damaged: DamagedRecord): void => {
    out.damaged++;
    onDamaged(damaged);
  };
  try {
    for await (const line of readLinesBackward(file, page.before)) {
      const trajectory = parse(line, report);
      if (!trajectory || !passesFilter(trajectory, filter)) continue;
      out.trajectories.push(summarize(trajectory));
      if (out.trajectories.length === page.limit) {
        out.next = line.offset > 0 ? line.offset : null;
        break;
      }
    }
  } catch (err) {
    if (!missing(err)) throw err;
  }
  return out;
}

/**
 * The record of one episode, the latest if it was written twice; null when the log has none.
 * Only lines that hold the id's text are parsed, so a lookup costs a read of the log, not a parse.
 */
export async function findTrajectory(file: string, episodeId: string, onDamaged: (damaged: DamagedRecord) => void): Promise<Trajectory | null> {
  const needle = Buffer.from(JSON.stringify(episodeId).slice(1, -1));
  try {
    for await (const line of readLinesBackward(file)) {
      if (!line.bytes.includes(needle)) continue;
      const trajectory = parse(line, onDamaged);
      if (trajectory?.episode_id === episodeId) return trajectory;
    }
  } catch (err) {
    if (!missing(err)) throw err;
  }
  return null;
}

/**
 * Whether `offset` is where a line of the log starts (0, or just after a newline), as every
 * `next` of a page is; an offset past the end, or inside a line, is not.
 */
export async function isLineStart(file: string, offset: number): Promise<boolean> {
  if (offset === 0) return true;
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    if (missing(err)) return false;
    throw err;
  }
  try {
    const byte = Buffer.alloc(1);
    const { bytesRead } = await fh.read(byte, 0, 1, offset - 1);
    return bytesRead === 1 && byte[0] === 10;
  } finally {
    await fh.close();
  }
}

/**
 * The SFT export of the log's trajectories that pass the filter, in the log's order, line by
 * line as `hgym export` writes them. A log not written yet exports nothing.
 */
export async function* readSftExport(file: string, filter: SftFilter, onDamaged: (damaged: DamagedLine) => void): AsyncGenerator<string> {
  try {
    yield* sftLines(readTrajectories(file, onDamaged), filter);
  } catch (err) {
    if (!missing(err)) throw err;
  }
}
