/**
 * The episode service: the one path every transport (REST, WebSocket) takes to reset, step, read
 * and close episodes. It picks instances, starts, finds, reaps and closes episodes, builds their
 * answers, records their metrics and logs them, so that both doors give the same answers and move
 * the same counters.
 */
import { createHash } from 'node:crypto';
import { hgymError } from '../env/errors.js';
import type { Corpus } from '../env/corpus/load.js';
import { Episode, type EpisodeLimits, type EpisodeState, type StepResult } from '../env/episode.js';
import type { OutputChunk, SandboxPool } from '../env/sandbox.js';
import type { Trajectory } from '../env/trajectory.js';
import type { TaskInstance } from '../schemas/tasks.js';
import type { ClosedAnswer, ResetAnswer, ResetBody } from '../schemas/api.js';
import { TrajectoryLog } from '../env/trajectory-log.js';
import type { Metrics } from './metrics.js';

/** The part of a pino logger the service uses: structured lines and child loggers. */
export interface Log {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): Log;
}

/** The metrics the service records (server/metrics.ts makes them). */
export type EpisodeMetrics = Pick<Metrics, 'episodesTotal' | 'resetSeconds' | 'workspacesTotal' | 'stepSeconds' | 'rewards'>;

export interface EpisodeServiceOptions {
  corpus: Corpus;
  pool: SandboxPool;
  cacheDir: string;
  limits: EpisodeLimits;
  /** Most episodes open at once; beyond it reset answers 503 HGYM_ERR_CAPACITY. */
  maxEpisodes: number;
  /** Where ended episodes' trajectories are appended, one JSON line each (through the file's one writer). */
  trajectoryFile: string;
  /** A running episode with no step for this long is closed by the reaper. */
  idleTimeoutMs: number;
  /** A running episode older than this is closed by the reaper, however busy. */
  maxEpisodeMs: number;
  /** Ended episodes stay queryable (state, trajectory) this long, then are forgotten. */
  retainMs: number;
  /** Most ended episodes kept queryable; past it the longest-ended is forgotten first. */
  maxEnded: number;
  log: Log;
  metrics: EpisodeMetrics;
  /** This server's name, which prefixes every episode id (`<name>.<uuid>`); none: bare uuids. */
  serverName?: string | undefined;
}

/** The label of a step's latency: its tool's name, or `message` for anything that names none. */
function toolOf(action: unknown): string {
  const tool = (action as { tool?: unknown } | null)?.tool;
  return typeof tool === 'string' && /^[a-z_]{1,32}$/.test(tool) ? tool : 'message';
}

export class EpisodeService {
  private readonly episodes = new Map<string, Episode>();
  /** Ids of ended episodes still kept, longest-ended first (a Set keeps insertion order). */
  private readonly ended = new Set<string>();
  private readonly trajectories: TrajectoryLog;
  private starting = 0;

  constructor(private readonly options: EpisodeServiceOptions) {
    this.trajectories = TrajectoryLog.open(options.trajectoryFile);
  }

  /** Running episodes by task, for metrics. */
  runningByTask(): Map<string, number> {
    const out = new Map<string, number>();
    for (const e of this.episodes.values()) if (e.status === 'running') out.set(e.instance.task, (out.get(e.instance.task) ?? 0) + 1);
    return out;
  }

  /** Episodes still running or being graded (holding a sandbox, or about to take one to grade in). */
  get running(): number {
    let n = 0;
    for (const e of this.episodes.values()) if (e.status === 'running' || e.status === 'grading') n++;
    return n;
  }

  /** The instance a reset asks for: by id, else by seed within the family (or all), else at random. */
  pick(body: ResetBody): TaskInstance {
    const { corpus } = this.options;
    if (body.instance_id !== undefined) {
      const instance = corpus.instances.get(body.instance_id);
      if (!instance) throw hgymError('HGYM_ERR_NOT_FOUND', `instance ${body.instance_id}`);
      if (body.task !== undefined && instance.task !== body.task) throw hgymError('HGYM_ERR_BAD_REQUEST', `instance ${body.instance_id} is a ${instance.task} instance, not ${body.task}`);
      return instance;
    }
    const ids = body.task !== undefined ? corpus.families.get(body.task) : [...corpus.instances.keys()];
    if (!ids) throw hgymError('HGYM_ERR_NOT_FOUND', `task family ${body.task} (loaded: ${[...corpus.families.keys()].join(', ')})`);
    if (ids.length === 0) throw hgymError('HGYM_ERR_NOT_FOUND', 'any task instance in the corpus');
    // Same seed, same corpus: same instance. The seed is hashed so nearby seeds spread out.
    const index =
      body.seed !== undefined
        ? createHash('sha256').update(String(body.seed)).digest().readUInt32BE(0) % ids.length
        : Math.floor(Math.random() * ids.length);
    return corpus.instances.get(ids[index]!)!;
  }

  /** Starts an episode: 201's body over REST, `reset_result`'s over WebSocket. */
  async reset(body: ResetBody): Promise<ResetAnswer> {
    const started = performance.now();
    const instance = this.pick(body);
    if (this.running + this.starting >= this.options.maxEpisodes) {
      throw hgymError('HGYM_ERR_CAPACITY', `${this.options.maxEpisodes} episodes are open`);
    }
    this.starting++;
    let episode: Episode;
    try {
      const limits = { ...this.options.limits };
      if (body.options?.max_steps !== undefined) limits.maxSteps = Math.min(limits.maxSteps, body.options.max_steps);
      if (body.options?.command_timeout !== undefined) limits.commandTimeoutMs = Math.min(limits.commandTimeoutMs, Math.round(body.options.command_timeout * 1000));
      episode = await Episode.reset({ instance, snapshot: await this.options.corpus.snapshot(instance), pool: this.options.pool, cacheDir: this.options.cacheDir, limits, server: this.options.serverName });
    } finally {
      this.starting--;
    }
    const { metrics } = this.options;
    metrics.resetSeconds.observe({ task: instance.task }, (performance.now() - started) / 1000);
    metrics.episodesTotal.inc({ task: instance.task });
    metrics.workspacesTotal.inc({ from: episode.workspaceFrom });
    // Every line about this episode carries its id and its container's.
    const log = this.options.log.child({ episode_id: episode.id, container_id: episode.sandboxId.slice(0, 12) });
    log.info({ task: instance.task, instance_id: instance.instance_id }, 'episode started');
    episode.onEnd = (trajectory) => {
      log.info({ status: trajectory.status, steps: trajectory.steps.length, reward: trajectory.reward }, 'episode ended');
      if (trajectory.reward !== null) metrics.rewards.observe({ task: instance.task }, trajectory.reward);
      this.trajectories.append(trajectory).catch((err: unknown) => log.error({ err }, 'persisting a trajectory failed'));
      this.retire(episode.id);
    };
    this.episodes.set(episode.id, episode);
    return { episode_id: episode.id, observation: { text: instance.instruction }, info: episode.resetInfo() };
  }

  /**
   * Runs one action of an episode; its output goes to `onOutput` while it runs (WebSocket
   * streams it). Steps of one episode run one after another, whichever door they came in by.
   */
  async step(id: string, action: unknown, onOutput?: (chunk: OutputChunk) => void): Promise<StepResult> {
    const episode = this.get(id);
    const started = performance.now();
    const result = await episode.step(action, onOutput);
    this.options.metrics.stepSeconds.observe({ tool: toolOf(action) }, (performance.now() - started) / 1000);
    return result;
  }

  state(id: string): EpisodeState {
    return this.get(id).state();
  }

  trajectory(id: string): Trajectory {
    return this.get(id).trajectory();
  }

  /** Counts an ended episode against maxEnded. Forgetting one loses nothing: its trajectory went to the log when it ended. */
  private retire(id: string): void {
    this.ended.add(id);
    for (const oldest of this.ended) {
      if (this.ended.size <= this.options.maxEnded) break;
      this.ended.delete(oldest);
      this.episodes.delete(oldest);
    }
  }

  /** The episode itself, for the service's own use and tests; transports use the methods above. */
  get(id: string): Episode {
    const episode = this.episodes.get(id);
    if (!episode) throw hgymError('HGYM_ERR_NOT_FOUND', `episode ${id}`);
    return episode;
  }

  /** Closes an episode; closing one that is unknown or already closed is fine (idempotent). */
  async close(id: string): Promise<ClosedAnswer> {
    const episode = this.episodes.get(id);
    if (!episode) return { episode_id: id, closed: false };
    await episode.close();
    return { episode_id: id, closed: true, status: episode.status };
  }

  /**
   * Closes running episodes idle past idleTimeoutMs or older than maxEpisodeMs, and forgets
   * ended ones past retainMs. `now` is passed in, so tests drive it with a fake clock.
   */
  async reap(now: number): Promise<{ closed: string[]; forgotten: string[] }> {
    const closed: string[] = [];
    const forgotten: string[] = [];
    for (const [id, e] of this.episodes) {
      if (e.status === 'running') {
        if (now - e.lastActivity >= this.options.idleTimeoutMs || now - e.createdAt.getTime() >= this.options.maxEpisodeMs) {
          closed.push(id);
          await e.close();
        }
      } else if (e.endedAt && now - e.endedAt.getTime() >= this.options.retainMs) {
        forgotten.push(id);
        this.episodes.delete(id);
        this.ended.delete(id);
      }
    }
    return { closed, forgotten };
  }

  /** Closes a running episode unless it was used after `since` (a dropped socket's grace). */
  async closeIfIdleSince(id: string, since: number): Promise<boolean> {
    const episode = this.episodes.get(id);
    if (!episode || episode.status !== 'running' || episode.lastActivity > since) return false;
    await episode.close();
    return true;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.episodes.values()].map((e) => e.close()));
  }

  /** Closes every episode, then waits until their trajectories are written (shutdown loses none). */
  async shutdown(): Promise<void> {
    try {
      await this.closeAll();
    } finally {
      await this.trajectories.close();
    }
  }
}
