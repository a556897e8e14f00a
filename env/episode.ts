/**
 * An episode: the Gymnasium state machine over one sandbox.
 *
 *   running → grading → terminated (finish) | truncated (max_steps)
 *   running → closed (closed before the end)
 *   grading → failed (grading could not complete for a reason the agent did not cause)
 *
 * Grading first kills every agent process and reads what it needs from the sandbox, then
 * releases it; func_gen's tests run in a fresh sandbox. A step during or after grading is
 * HGYM_ERR_EPISODE_ENDED. A close during grading waits for the grade, and the episode ends
 * graded. What the agent did to its sandbox is graded; only a failure it could not cause
 * (a sandbox lost, the server's own files) is an error, and ends the episode as `failed`.
 */
import { v4 as uuidv4 } from 'uuid';
import { hgymError, HgymError } from './errors.js';
import { prepareWorkspace, putWorkspace, type PreparedWorkspace, type WorkspaceFrom } from './corpus/workspace.js';
import { imageOf } from './corpus/environment.js';
import type { Snapshot } from './corpus/snapshot.js';
import type { OutputChunk, Sandbox, SandboxPool } from './sandbox.js';
import { workspacePath } from './tasks/context.js';
import { collectSubmission, gradeSubmission, warmGrading } from './tasks/families.js';
import { pristineWorkspace } from './tasks/executed.js';
import type { GradeResult } from './tasks/grade.js';
import { TOOL_DEFINITIONS, ToolBox } from './tools/toolbox.js';
import type { Observation } from './tools/observation.js';
import type { TaskInstance } from '../schemas/tasks.js';
import type { Trajectory } from './trajectory.js';
import type { EpisodeState, EpisodeStatus, ResetInfo, StepAnswer, TrajectoryStep } from '../schemas/api.js';

// The shapes an episode answers with are the API's schemas (schemas/api.ts), not declared twice.
export type { EpisodeState, EpisodeStatus, ResetInfo };
/** One step as the trajectory records it. */
export type StepRecord = TrajectoryStep;
export type StepResult = StepAnswer;

export interface EpisodeLimits {
  maxSteps: number;
  /** Per-command timeout and cap for execute_bash. */
  commandTimeoutMs: number;
  maxOutputChars: number;
}

export const DEFAULT_EPISODE_LIMITS: EpisodeLimits = { maxSteps: 50, commandTimeoutMs: 120_000, maxOutputChars: 30_000 };

export interface ResetInput {
  instance: TaskInstance;
  snapshot: Snapshot;
  pool: SandboxPool;
  cacheDir: string;
  limits?: Partial<EpisodeLimits>;
  /** The server that owns the episode: its id is then `<server>.<uuid>`, so a load balancer can route by it. */
  server?: string | undefined;
}

/** Files of the snapshot as it is, for func_gen's grading warm-up. */
function pristineReader(snapshot: Snapshot, cacheDir: string): (path: string) => Promise<string | null> {
  return async (path) => (await pristineWorkspace(snapshot, cacheDir)).read(path);
}

export class Episode {
  readonly createdAt = new Date();
  lastActivity = Date.now();
  status: EpisodeStatus = 'running';
  readonly steps: StepRecord[] = [];
  grade: GradeResult | null = null;
  /** Why grading failed, when the episode ended as `failed`. */
  error: { code: string; message: string } | null = null;
  endedAt: Date | null = null;
  /** Called once when the episode ends (graded or closed), with its final trajectory. */
  onEnd: ((trajectory: Trajectory) => void) | null = null;
  private readonly toolbox: ToolBox;
  private closing: Promise<void> | null = null;
  private grading: Promise<unknown> | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly id: string,
    readonly instance: TaskInstance,
    readonly limits: EpisodeLimits,
    private readonly sandbox: Sandbox,
    private readonly workspace: PreparedWorkspace,
    private readonly snapshot: Snapshot,
    private readonly cacheDir: string,
    private readonly pool: SandboxPool,
    /** How the workspace came (WorkspaceFrom): finished from a stage, laid out from the base, or sent whole. */
    readonly workspaceFrom: WorkspaceFrom = 'archive',
  ) {
    this.toolbox = new ToolBox(sandbox, { bash: { timeoutMs: limits.commandTimeoutMs, maxOutputChars: limits.maxOutputChars } });
  }

  static async reset(input: ResetInput): Promise<Episode> {
    const limits = { ...DEFAULT_EPISODE_LIMITS, ...input.limits };
    if (input.snapshot.id !== input.instance.repo.snapshot) {
      throw hgymError('HGYM_ERR_NOT_FOUND', `snapshot ${input.instance.repo.snapshot.slice(0, 12)} of ${input.instance.repo.name} (the corpus holds ${input.snapshot.id.slice(0, 12)})`);
    }
    const workspace = await prepareWorkspace(input.instance, input.snapshot, input.cacheDir);
    const sandbox = await input.pool.acquire(imageOf(input.instance.repo));
    let from: WorkspaceFrom;
    try {
      const root = workspacePath(input.instance.repo.name);
      // The agent's shell starts in the repository.
      from = await putWorkspace(sandbox, root, workspace, { shell: true });
    } catch (err) {
      await sandbox.release();
      throw err;
    }
    // In the background, after the answer: the agent's first steps take far longer. Only what
    // the server holds: the snapshot's files are written to the cache when grading needs them,
    // and nothing runs on after the server has closed that could write into it.
    void warmGrading(input.instance, workspace);
    const id = input.server ? `${input.server}.${uuidv4()}` : uuidv4();
    return new Episode(id, input.instance, limits, sandbox, workspace, input.snapshot, input.cacheDir, input.pool, from);
  }

  get sandboxId(): string {
    return this.sandbox.id;
  }

  get root(): string {
    return workspacePath(this.instance.repo.name);
  }

  /** What reset answers: the instruction, and what a trainer needs to drive the episode. */
  resetInfo(): ResetInfo {
    return {
      task: this.instance.task,
      instance_id: this.instance.instance_id,
      max_steps: this.limits.maxSteps,
      tools: [...TOOL_DEFINITIONS],
      workspace: this.root,
    };
  }

  /**
   * Runs one action. Steps of one episode run one after another, whichever transport sends
   * them: a second step waits for the first instead of colliding in the sandbox.
   */
  step(action: unknown, onOutput?: (chunk: OutputChunk) => void): Promise<StepResult> {
    const run = this.queue.then(() => this.runStep(action, onOutput));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runStep(action: unknown, onOutput?: (chunk: OutputChunk) => void): Promise<StepResult> {
    if (this.status !== 'running') throw hgymError('HGYM_ERR_EPISODE_ENDED', this.id, this.status);
    this.lastActivity = Date.now();
    const started = new Date();
    const t0 = performance.now();
    const obs: Observation = await this.toolbox.run(action, onOutput);
    this.steps.push({
      index: this.steps.length,
      action,
      observation: obs.text,
      invalid: obs.invalid === true,
      started_at: started.toISOString(),
      duration_ms: Math.round((performance.now() - t0) * 1000) / 1000,
    });
    this.lastActivity = Date.now();
    const truncated = !obs.finished && this.steps.length >= this.limits.maxSteps;
    if (!obs.finished && !truncated) {
      return { observation: { text: obs.text }, reward: 0, terminated: false, truncated: false, info: { step: this.steps.length, ...(obs.exec ? { exec: obs.exec } : {}) } };
    }
    const ended = obs.finished ? 'terminated' : 'truncated';
    this.status = 'grading';
    this.grading = this.gradeAndEnd(ended);
    await this.grading;
    const text = truncated ? `${obs.text}\n[The episode reached its limit of ${this.limits.maxSteps} steps and was graded as it stands.]` : obs.text;
    return {
      observation: { text },
      reward: this.grade!.reward,
      terminated: ended === 'terminated',
      truncated,
      info: { step: this.steps.length, grade: this.grade!.info },
    };
  }

  /**
   * Grades, then ends the episode as `ended`; on a failure ends it as `failed` and rethrows
   * the failure as a coded error. The sandbox is released either way.
   */
  private async gradeAndEnd(ended: 'terminated' | 'truncated'): Promise<void> {
    try {
      const submission = await collectSubmission(this.instance, this.sandbox, this.root, this.workspace);
      // Released before grading: func_gen takes a fresh sandbox, and the pool's bound holds.
      this.endSandbox();
      // What the reset's warm-up has not done yet (it waits for a quiet moment), done now.
      await warmGrading(this.instance, this.workspace, 'now', pristineReader(this.snapshot, this.cacheDir));
      this.grade = await gradeSubmission(this.instance, submission, { pool: this.pool, snapshot: this.snapshot, cacheDir: this.cacheDir });
      this.status = ended;
    } catch (cause) {
      const error = cause instanceof HgymError ? cause : new HgymError('HGYM_ERR_GRADING_FAILED', [(cause as Error).message], { cause });
      this.status = 'failed';
      this.error = { code: error.code, message: error.message };
      await this.close();
      throw error;
    }
    await this.close();
  }

  /**
   * Releases the sandbox; idempotent. A closed episode keeps its trajectory. A close during
   * grading waits for it: the episode ends graded (or failed), and close reports that.
   */
  close(): Promise<void> {
    if (this.status === 'grading' && this.grading) return this.grading.then(() => this.close(), () => this.close());
    this.closing ??= (async () => {
      if (this.status === 'running') this.status = 'closed';
      this.endedAt = new Date();
      try {
        this.endSandbox();
      } finally {
        this.onEnd?.(this.trajectory());
      }
    })();
    return this.closing;
  }

  /**
   * Releases the sandbox (idempotent). Its container is removed in its turn (the pool paces
   * removals while episodes run, and its close waits for them): neither grading nor an answer
   * waits for that.
   */
  private endSandbox(): void {
    this.sandbox.release().catch(() => {});
  }

  /** Every step so far and, once ended, the reward and its breakdown. */
  trajectory(): Trajectory {
    return {
      episode_id: this.id,
      task: this.instance.task,
      instance_id: this.instance.instance_id,
      instruction: this.instance.instruction,
      status: this.status,
      steps: this.steps,
      reward: this.grade?.reward ?? null,
      grade: this.grade?.info ?? null,
      ...(this.error ? { error: this.error } : {}),
      created_at: this.createdAt.toISOString(),
      ended_at: this.endedAt?.toISOString() ?? null,
    };
  }

  state(): EpisodeState {
    return {
      episode_id: this.id,
      task: this.instance.task,
      instance_id: this.instance.instance_id,
      status: this.status,
      steps: this.steps.length,
      max_steps: this.limits.maxSteps,
      created_at: this.createdAt.toISOString(),
      last_activity_at: new Date(this.lastActivity).toISOString(),
      reward: this.grade?.reward ?? null,
      ...(this.error ? { error: this.error } : {}),
    };
  }
}
