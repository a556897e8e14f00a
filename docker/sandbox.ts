/**
 * Container handles by lifecycle stage: a WarmContainer sits in the pool; lease() turns it
 * into a LeasedSandbox (the Sandbox port) exactly once; a released or lost sandbox rejects
 * every call.
 */
import { Budget } from '../env/budget.js';
import { hgymError, HgymError } from '../env/errors.js';
import {
  SandboxFileError,
  type Digest,
  type DigestEntry,
  type DirListing,
  type ExecOptions,
  type ExecResult,
  type FileRead,
  type PutOptions,
  type ReadOptions,
  type Sandbox,
  type StageSpec,
  type WorkspaceLayout,
  type WriteOptions,
} from '../env/sandbox.js';
import type { ExecutorConnection, Frame } from './protocol.js';

/** Docker's least CPU weight (the default is 1024): a background() sandbox's. */
export const BACKGROUND_CPU_SHARES = 2;

/** How long a release waits for the executor to halt the agent's processes (see haltForRemoval). */
const RELEASE_HALT_MS = 2_000;
/** Slack on top of a command's own timeout for the executor's kill-and-restart to report. */
const EXEC_GRACE_MS = 15_000;
const FILE_OP_DEADLINE_MS = 30_000;
/**
 * An archive's unpacking may take longer: on a loaded machine a sandbox (one CPU at most) unpacks
 * a large workspace slowly, and a deadline that ran out there would lose a healthy sandbox.
 */
const UNTAR_DEADLINE_PER_MIB_MS = 10_000;
/** A warm sandbox's readiness check; an executor that is only slow (a loaded engine) still passes. */
const PING_DEADLINE_MS = 10_000;
/** A stage unpacks a base's work tree: tens of megabytes at most, while the pool refills. */
const STAGE_DEADLINE_MS = 60_000;

/**
 * Archive bytes in flight to sandboxes at once, across the process. A burst of resets would
 * otherwise hold every archive three times (buffer, base64, frame) in memory and have every
 * sandbox unpack at once, each slower than it alone; one larger than the budget goes alone.
 */
const TRANSFER_BUDGET_BYTES = 24 * 2 ** 20;

const transfers = new Budget(TRANSFER_BUDGET_BYTES);
const UNLIMITED = new Budget(Number.MAX_SAFE_INTEGER);

export class WarmContainer {
  private taken = false;

  constructor(
    readonly id: string,
    readonly conn: ExecutorConnection,
    readonly createdAt: number,
    /** The repository bases its executor holds (docker/executor/bases.py). */
    readonly bases: ReadonlySet<string> = new Set(),
  ) {}

  /**
   * Lays out `spec`'s work tree ahead (a base it holds; else nothing), so that a reset of that
   * base only finishes it (docker/executor/bases.py). Whether it did: a stage that fails leaves
   * the sandbox as it was, and its reset lays out everything. The executor answers requests in
   * turn, so the container may be handed out meanwhile: its reset waits for the stage and uses it.
   */
  async stage(spec: StageSpec | undefined): Promise<boolean> {
    if (!spec || !this.bases.has(spec.base) || this.conn.lost !== null) return false;
    try {
      return (await this.conn.request({ op: 'stage', base: spec.base, leave_out: spec.leaveOut, files: spec.files }, STAGE_DEADLINE_MS)).type === 'staged';
    } catch {
      return false;
    }
  }

  /** Confirms the executor answers before the container is handed out. */
  async check(): Promise<boolean> {
    if (this.conn.lost !== null) return false;
    try {
      const frame = await this.conn.request({ op: 'ping' }, PING_DEADLINE_MS);
      return frame.type === 'pong' && frame.busy === false;
    } catch {
      return false;
    }
  }

  /**
   * Hands the container over to an episode; a WarmContainer can be leased once. `unpacks` is its
   * engine's share of archives unpacking at once (one unit each); `setCpuShares` sets the
   * container's CPU weight on its engine (background()).
   */
  lease(onRelease: (sandbox: LeasedSandbox) => Promise<void>, unpacks: Budget = UNLIMITED, setCpuShares?: (shares: number) => Promise<void>): LeasedSandbox {
    if (this.taken) throw new Error('a warm container was leased twice');
    this.taken = true;
    return new LeasedSandbox(this.id, this.conn, onRelease, unpacks, this.bases, setCpuShares);
  }
}

function fileError(frame: Frame): Error {
  const code = String(frame.code);
  const message = String(frame.message);
  if (code === 'BUSY') return new HgymError('HGYM_ERR_SANDBOX_BUSY');
  if (/^E[A-Z0-9]+$/.test(code)) return new SandboxFileError(code, message);
  return hgymError('HGYM_ERR_EXECUTOR', `${code}: ${message}`);
}

export class LeasedSandbox implements Sandbox {
  private released = false;
  private releasing: Promise<void> | null = null;

  constructor(
    readonly id: string,
    private readonly conn: ExecutorConnection,
    private readonly onRelease: (sandbox: LeasedSandbox) => Promise<void>,
    private readonly unpacks: Budget = UNLIMITED,
    private readonly bases: ReadonlySet<string> = new Set(),
    private readonly setCpuShares?: (shares: number) => Promise<void>,
  ) {}

  /**
   * Lowers the container's CPU weight to the least its engine gives (Docker's 2 against the
   * default 1024): it then runs on the CPU other sandboxes leave, for work no one waits on step
   * by step (a grader's test run beside episodes that still step). Whether it was lowered: an
   * engine that cannot (no CPU controller, say) leaves it at the default.
   */
  async background(): Promise<boolean> {
    if (this.released) throw new HgymError('HGYM_ERR_SANDBOX_RELEASED');
    if (!this.setCpuShares) return false;
    return this.setCpuShares(BACKGROUND_CPU_SHARES).then(
      () => true,
      () => false,
    );
  }

  get usable(): boolean {
    return !this.released && this.conn.lost === null;
  }

  /** Why the sandbox was lost, or null while it is alive. */
  get lostReason(): string | null {
    return this.conn.lost;
  }

  onLost(listener: (reason: string) => void): void {
    this.conn.onLost(listener);
  }

  /** Ends the sandbox from the pool's side (its engine stopped answering): calls fail as lost. */
  lose(reason: string): void {
    this.conn.close(reason);
  }

  private async call(body: Record<string, unknown>, deadlineMs: number, onOutput?: ExecOptions['onOutput']): Promise<Frame> {
    if (this.released) throw hgymError('HGYM_ERR_SANDBOX_RELEASED', this.id.slice(0, 12));
    const frame = await this.conn.request(body, deadlineMs, onOutput);
    if (frame.type === 'error') throw fileError(frame);
    return frame;
  }

  async exec(command: string, options: ExecOptions): Promise<ExecResult> {
    const frame = await this.call(
      {
        op: 'exec',
        command,
        timeout_ms: Math.max(1, Math.round(options.timeoutMs)),
        max_output: options.maxOutput ?? 32_768,
        stream: options.onOutput !== undefined,
        ...(options.fresh ? { fresh: true, cwd: options.fresh.cwd } : {}),
      },
      options.timeoutMs + EXEC_GRACE_MS,
      options.onOutput,
    );
    return {
      exitCode: typeof frame.exit_code === 'number' ? frame.exit_code : null,
      timedOut: frame.timed_out === true,
      output: String(frame.output ?? ''),
      outputChars: Number(frame.output_chars ?? 0),
      cutChars: Number(frame.cut_chars ?? 0),
      note: typeof frame.note === 'string' ? frame.note : null,
      cwd: String(frame.cwd ?? ''),
      durationMs: Number(frame.duration_ms ?? 0),
    };
  }

  async halt(): Promise<void> {
    const frame = await this.call({ op: 'halt' }, FILE_OP_DEADLINE_MS);
    if (frame.type !== 'halted') throw hgymError('HGYM_ERR_EXECUTOR', `halt answered ${String(frame.type)}`);
  }

  async readFile(path: string, options: ReadOptions = {}): Promise<FileRead> {
    const frame = await this.call(
      {
        op: 'read',
        path,
        max_bytes: options.maxBytes ?? 4 * 2 ** 20,
        ...(options.lines ? { start_line: options.lines[0], end_line: options.lines[1] } : {}),
        ...(options.noFollow ? { no_follow: true } : {}),
      },
      FILE_OP_DEADLINE_MS,
    );
    const kind = frame.kind;
    if (kind === 'missing' || kind === 'dir' || kind === 'other') return { kind };
    return {
      kind: 'file',
      size: Number(frame.size ?? 0),
      ...(typeof frame.text === 'string' ? { text: frame.text } : {}),
      ...(frame.binary === true ? { binary: true } : {}),
      ...(frame.too_large === true ? { tooLarge: true } : {}),
      ...(typeof frame.total_lines === 'number' ? { totalLines: frame.total_lines } : {}),
    };
  }

  async writeFile(path: string, text: string, options: WriteOptions = {}): Promise<void> {
    await this.call({ op: 'write', path, text, exclusive: options.exclusive === true, parents: options.parents === true }, FILE_OP_DEADLINE_MS);
  }

  async removeFile(path: string): Promise<void> {
    await this.call({ op: 'unlink', path }, FILE_OP_DEADLINE_MS);
  }

  async listDir(path: string, depth: number): Promise<DirListing> {
    const frame = await this.call({ op: 'list', path, depth }, FILE_OP_DEADLINE_MS);
    return { entries: frame.entries as DirListing['entries'], truncated: frame.truncated === true };
  }

  async digest(root: string): Promise<Digest> {
    const frame = await this.call({ op: 'digest', path: root }, FILE_OP_DEADLINE_MS);
    return { entries: frame.entries as DigestEntry[], truncated: frame.truncated === true };
  }

  async putArchive(dir: string, tar: Buffer, options?: PutOptions): Promise<void> {
    // Base64 in one frame: workspaces are megabytes, well under the executor's frame limit. A
    // burst of resets sends them a few at a time, each with its own deadline: as many unpacking
    // at once on an engine as it has CPUs to unpack with (unpacks), in the order asked, so that
    // the first finish soon instead of every one sharing the CPU and all finishing late; and
    // within the process's bytes in flight (transfers).
    const unpacking = await this.unpacks.acquire(1);
    const release = await transfers.acquire(tar.length);
    try {
      const deadline = FILE_OP_DEADLINE_MS + Math.ceil(tar.length / 2 ** 20) * UNTAR_DEADLINE_PER_MIB_MS;
      await this.call({ op: 'untar', path: dir, data: tar.toString('base64'), ...(options?.shell ? { shell: true } : {}) }, deadline);
    } finally {
      release();
      unpacking();
    }
  }

  holdsBase(name: string): boolean {
    return this.bases.has(name);
  }

  async materialize(dir: string, layout: WorkspaceLayout, options?: PutOptions): Promise<boolean> {
    // Light work in the sandbox (a local tar of the base, a few small files), so no budget.
    const bytes = layout.archive.length + layout.pack.reduce((n, p) => n + (typeof p === 'string' ? p.length : p[1]), 0);
    const frame = await this.call(
      {
        op: 'materialize',
        path: dir,
        base: layout.base,
        exclude: layout.exclude,
        files: layout.files,
        archive: layout.archive.toString('base64'),
        ...(layout.pack.length > 0 ? { pack: { path: layout.packPath, pieces: layout.pack, trailer: layout.trailer } } : {}),
        ...(options?.shell ? { shell: true } : {}),
      },
      FILE_OP_DEADLINE_MS + Math.ceil(bytes / 2 ** 20) * UNTAR_DEADLINE_PER_MIB_MS,
    );
    return frame.staged === true;
  }

  /** Whether its release halted every process but the executor's: its removal can wait its turn. */
  halted = false;

  /**
   * Ends the sandbox for good: the agent's processes are halted at once, and its container is
   * removed in its turn (the pool paces removals); resolves once it is halted and given back,
   * not waiting for that removal (the pool's close does).
   */
  release(): Promise<void> {
    if (!this.releasing) {
      this.released = true;
      this.releasing = this.haltForRemoval().then(() => this.onRelease(this));
    }
    return this.releasing;
  }

  /**
   * Nothing of the agent's may run while the container waits to be removed. An executor that
   * does not halt in time loses its connection, and that ends the container (StdinOnce).
   */
  private async haltForRemoval(): Promise<void> {
    if (this.conn.lost !== null) return;
    try {
      const frame = await this.conn.request({ op: 'halt' }, RELEASE_HALT_MS);
      if (frame.type !== 'halted') throw new Error(`halt answered ${String(frame.type)}`);
      this.halted = true;
    } catch {
      this.conn.close('released');
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }
}
