/**
 * The Sandbox port: everything the domain needs from the place an episode's commands run.
 * The Docker adapter (docker/pool.ts) implements it with pooled containers; tests may use
 * any in-memory implementation.
 */
import type { PoolStats } from '../schemas/api.js';

// The pool's stats are what /readyz answers: their types are the API schemas' (schemas/api.ts).
export type { EngineStats, ImagePoolStats, PoolStats } from '../schemas/api.js';

export type OutputStream = 'stdout' | 'stderr';

export interface OutputChunk {
  stream: OutputStream;
  data: string;
}

export interface ExecOptions {
  /** Hard limit; on expiry the command's process group and every process it left are killed. */
  timeoutMs: number;
  /** Characters of output kept (half from the start, half from the end). */
  maxOutput?: number;
  /** Called with each chunk of output as it is produced (only the kept head is streamed). */
  onOutput?: (chunk: OutputChunk) => void;
  /**
   * Run in a new shell with no state, in `cwd`, after killing every process in the sandbox:
   * for graders, so that nothing the agent started or defined in its shell takes part.
   */
  fresh?: { cwd: string };
}

export interface ExecResult {
  /** Exit status; 128+N when killed by signal N; null when timed out or killed by the sandbox. */
  exitCode: number | null;
  timedOut: boolean;
  /** stdout and stderr merged in arrival order, cut to maxOutput with a note where cut. */
  output: string;
  outputChars: number;
  cutChars: number;
  /** What the sandbox did beyond running the command (timeout kill, shell restart), if anything. */
  note: string | null;
  /** Working directory of the shell after the command. */
  cwd: string;
  durationMs: number;
}

export type FileRead =
  | { kind: 'missing' }
  | { kind: 'dir' }
  | { kind: 'other' }
  | { kind: 'file'; size: number; text?: string; binary?: boolean; tooLarge?: boolean; totalLines?: number };

export interface ReadOptions {
  maxBytes?: number;
  /** Read only lines start..end (1-based, inclusive, end -1 = to the end); reports totalLines. */
  lines?: readonly [number, number];
  /** Refuse a symbolic link (kind 'other') instead of reading what it points to: for graders. */
  noFollow?: boolean;
}

export interface WriteOptions {
  /** Fail with EEXIST when the file exists. */
  exclusive?: boolean;
  /** Create missing parent directories. */
  parents?: boolean;
}

export interface DirEntry {
  path: string;
  dir: boolean;
}

/** One entry of a digest: what a directory tree holds, for telling what an episode changed. */
export type DigestEntry =
  | { path: string; kind: 'file'; size: number; sha256: string }
  | { path: string; kind: 'symlink'; target: string }
  | { path: string; kind: 'other'; size: number };

export interface Digest {
  entries: DigestEntry[];
  truncated: boolean;
}

export interface DirListing {
  entries: DirEntry[];
  truncated: boolean;
}

/** A file operation refused by the sandbox's filesystem (errno-style code, e.g. ENOENT, EACCES). */
export class SandboxFileError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SandboxFileError';
  }
}

/**
 * A workspace laid out from a repository base the sandbox holds (env/corpus/bases.ts): the
 * base's work tree but `exclude`, then `archive` (a tar, gzipped or not) over it, then `.git`'s
 * pack at `packPath` assembled from `pack`'s pieces (base64 data, or [offset, length] in the
 * base's objects) and checked against `trailer` (hex SHA-1). No pack pieces: no `.git`.
 */
export interface WorkspaceLayout {
  base: string;
  exclude: string[];
  /**
   * Every file of the work tree, sorted: the sandbox creates them all first, in this order, and
   * then writes their contents in place, so no file's inode number or times single out the
   * changed ones (written after the rest).
   */
  files: string[];
  archive: Buffer;
  packPath: string;
  pack: (string | [number, number])[];
  trailer: string;
}

/**
 * What a warm sandbox of an image lays out ahead, before it is leased (docker/executor/bases.py,
 * `stage`): the work tree of `base` but `leaveOut`, every file any instance of that base changes.
 */
export interface StageSpec {
  base: string;
  leaveOut: readonly string[];
  /** Every file of the base's work tree, sorted (WorkspaceLayout.files). */
  files: readonly string[];
}

/** How a workspace is put into a sandbox. */
export interface PutOptions {
  /**
   * The agent's shell then works in the workspace, as if its first command had been `cd` there
   * (a reset's): the sandbox sends its idle shell that `cd` after it answers, so the reset does
   * not wait for it; a command running is left alone.
   */
  shell?: boolean;
}

/** A sandbox leased for one episode. After release every method rejects. */
export interface Sandbox extends AsyncDisposable {
  readonly id: string;
  /** Whether the sandbox can still run commands (not released, not lost). */
  readonly usable: boolean;
  exec(command: string, options: ExecOptions): Promise<ExecResult>;
  /**
   * Kills every process in the sandbox (a command still running ends as killed) and leaves
   * no shell running; the next exec starts a new one. For graders: nothing the agent left
   * running can change, hide or block what is read afterwards.
   */
  halt(): Promise<void>;
  readFile(path: string, options?: ReadOptions): Promise<FileRead>;
  writeFile(path: string, text: string, options?: WriteOptions): Promise<void>;
  removeFile(path: string): Promise<void>;
  listDir(path: string, depth: number): Promise<DirListing>;
  /**
   * Every file under `root` (but `.git`) with its sha256, read by the sandbox itself and not
   * through the agent's shell, so nothing the agent defined can change the answer.
   */
  digest(root: string): Promise<Digest>;
  /** Unpacks a tar archive into `dir` (created if needed), owned by the agent's user. */
  putArchive(dir: string, tar: Buffer, options?: PutOptions): Promise<void>;
  /** Whether the sandbox holds the base `name`, to lay out a workspace from it (materialize). */
  holdsBase?(name: string): boolean;
  /**
   * Lays out a workspace in `dir` from a base the sandbox holds: what putArchive does, without
   * the base's bytes. Whether it finished a stage laid out ahead (StageSpec).
   */
  materialize?(dir: string, layout: WorkspaceLayout, options?: PutOptions): Promise<boolean>;
  /**
   * Runs the sandbox at its engine's least CPU weight, on the CPU other sandboxes leave (for a
   * grader's run beside episodes that still step); whether it could.
   */
  background?(): Promise<boolean>;
  /** Ends the sandbox for good; idempotent. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** The environment image to run in (built FROM the base sandbox image); absent: the pool's base image. */
  image?: string;
  /** How long to wait for a free sandbox when the pool is at its maximum. */
  waitMs?: number;
  signal?: AbortSignal;
  /** Wait ahead of other waiters: a grader whose episode just gave its sandbox back. */
  priority?: boolean;
}

/** Hands out sandboxes, one per episode, never reused. */
export interface SandboxPool extends AsyncDisposable {
  acquire(options?: AcquireOptions): Promise<Sandbox>;
  stats(): PoolStats;
  /** Graceful: stop handing out, remove warm sandboxes, wait for leases to end; idempotent. */
  close(): Promise<void>;
  /** Forced: remove every sandbox now; idempotent. */
  destroy(reason?: Error): Promise<void>;
}
