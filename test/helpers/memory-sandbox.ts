/**
 * An in-memory Sandbox for unit tests of the tools: no Docker, no real filesystem.
 * It follows the Docker adapter's observable contract (docker/executor/): file kinds,
 * maxBytes/tooLarge, line ranges with totalLines, errno-style SandboxFileErrors, listings
 * without hidden entries, and a handle that rejects every call once released.
 * A Uint8Array value marks a binary file; exec answers with a scripted function.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { hgymError } from '../../env/errors.js';
import {
  SandboxFileError,
  type Digest,
  type DigestEntry,
  type DirEntry,
  type DirListing,
  type ExecOptions,
  type ExecResult,
  type FileRead,
  type ReadOptions,
  type Sandbox,
  type WriteOptions,
} from '../../env/sandbox.js';

export type ExecScript = (command: string, options: ExecOptions) => ExecResult | Promise<ExecResult>;

export type FileOp = 'read' | 'write' | 'remove' | 'list';

export interface MemorySandboxOptions {
  /** Answers exec; the default succeeds with no output in /workspace. */
  exec?: ExecScript;
  /** Path prefixes whose files cannot be written or removed (EROFS), like the container's root. */
  readOnly?: readonly string[];
  /** Called before every file operation; a returned error is thrown instead of doing it. */
  fault?: (op: FileOp, path: string) => Error | undefined;
  /** Most entries a listing returns before it is marked truncated. */
  listLimit?: number;
}

/** One call the sandbox received, for asserting what a tool asked of it. */
export type SandboxCall =
  | { op: 'exec'; command: string; options: ExecOptions }
  | { op: 'halt' }
  | { op: FileOp; path: string };

export function execResult(partial: Partial<ExecResult> = {}): ExecResult {
  const output = partial.output ?? '';
  return {
    exitCode: 0,
    timedOut: false,
    output,
    outputChars: output.length,
    cutChars: 0,
    note: null,
    cwd: '/workspace',
    durationMs: 1,
    ...partial,
  };
}

/** The lines of a text the way Python iterates a file: each keeps its newline. */
function pieces(text: string): string[] {
  const parts = text.split(/(?<=\n)/);
  return parts[parts.length - 1] === '' ? parts.slice(0, -1) : parts;
}

/** A path as the filesystem resolves it: /a//b/ and /a/b are the same directory. */
function norm(path: string): string {
  const p = posix.normalize(path);
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

function bytes(value: string | Uint8Array): number {
  return typeof value === 'string' ? Buffer.byteLength(value, 'utf8') : value.byteLength;
}

let nextId = 0;

export class MemorySandbox implements Sandbox {
  readonly id = `memory-${++nextId}`;
  readonly calls: SandboxCall[] = [];
  private readonly files = new Map<string, string | Uint8Array>();
  private readonly dirs = new Set<string>(['/']);
  private released = false;

  constructor(private readonly options: MemorySandboxOptions = {}) {}

  get usable(): boolean {
    return !this.released;
  }

  // ---- test set-up and inspection (not part of the port) ----

  /** Seeds a file (text, or binary bytes), creating its parent directories. */
  put(raw: string, content: string | Uint8Array): this {
    const path = norm(raw);
    this.mkdirs(posix.dirname(path));
    this.files.set(path, content);
    return this;
  }

  mkdir(path: string): this {
    this.mkdirs(norm(path));
    return this;
  }

  /** A file's content as stored (undefined when there is no such file). */
  content(path: string): string | Uint8Array | undefined {
    return this.files.get(norm(path));
  }

  // ---- the port ----

  async exec(command: string, options: ExecOptions): Promise<ExecResult> {
    this.check();
    this.calls.push({ op: 'exec', command, options });
    return this.options.exec ? this.options.exec(command, options) : execResult();
  }

  async halt(): Promise<void> {
    this.check();
    this.calls.push({ op: 'halt' });
  }

  async readFile(raw: string, options: ReadOptions = {}): Promise<FileRead> {
    const path = norm(raw);
    this.enter('read', path);
    if (this.isDir(path)) return { kind: 'dir' };
    const value = this.files.get(path);
    if (value === undefined) return { kind: 'missing' };
    const size = bytes(value);
    const maxBytes = options.maxBytes ?? 4 * 2 ** 20;
    const binary = typeof value !== 'string';
    if (options.lines) {
      const [start, end] = options.lines;
      if (binary) return { kind: 'file', size, totalLines: pieces(Buffer.from(value).toString('latin1')).length, binary: true };
      const all = pieces(value);
      const totalLines = all.length;
      const text = all.slice(start - 1, end < 0 ? undefined : end).join('');
      if (Buffer.byteLength(text, 'utf8') > maxBytes) return { kind: 'file', size, totalLines, tooLarge: true };
      return { kind: 'file', size, totalLines, text };
    }
    if (size > maxBytes) return { kind: 'file', size, tooLarge: true };
    if (binary) return { kind: 'file', size, binary: true };
    return { kind: 'file', size, text: value };
  }

  async writeFile(raw: string, text: string, options: WriteOptions = {}): Promise<void> {
    const path = norm(raw);
    this.enter('write', path);
    this.refuseReadOnly(path);
    if (this.isDir(path)) throw new SandboxFileError('EISDIR', `Is a directory: ${path}`);
    if (options.exclusive && this.files.has(path)) throw new SandboxFileError('EEXIST', `File exists: ${path}`);
    const parent = posix.dirname(path);
    if (!this.isDir(parent)) {
      if (this.files.has(parent)) throw new SandboxFileError('ENOTDIR', `Not a directory: ${parent}`);
      if (!options.parents) throw new SandboxFileError('ENOENT', `No such file or directory: ${path}`);
      this.mkdirs(parent);
    }
    this.files.set(path, text);
  }

  async removeFile(raw: string): Promise<void> {
    const path = norm(raw);
    this.enter('remove', path);
    this.refuseReadOnly(path);
    if (this.isDir(path)) throw new SandboxFileError('EISDIR', `Is a directory: ${path}`);
    if (!this.files.delete(path)) throw new SandboxFileError('ENOENT', `No such file or directory: ${path}`);
  }

  async listDir(raw: string, depth: number): Promise<DirListing> {
    const path = norm(raw);
    this.enter('list', path);
    if (!this.isDir(path)) throw new SandboxFileError('ENOTDIR', `${path} is not a directory`);
    const limit = this.options.listLimit ?? 2000;
    const entries: DirEntry[] = [];
    let truncated = false;
    const walk = (dir: string, rel: string, level: number): void => {
      for (const name of this.children(dir)) {
        if (name.startsWith('.')) continue;
        if (entries.length >= limit) {
          truncated = true;
          return;
        }
        const full = posix.join(dir, name);
        const isDir = this.isDir(full);
        entries.push({ path: rel + name, dir: isDir });
        if (isDir && level < depth) walk(full, `${rel}${name}/`, level + 1);
      }
    };
    walk(path, '', 1);
    return { entries, truncated };
  }

  async digest(raw: string): Promise<Digest> {
    this.enter('list', raw);
    const root = norm(raw);
    const prefix = root === '/' ? '/' : `${root}/`;
    const entries: DigestEntry[] = [];
    for (const [path, content] of [...this.files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (!path.startsWith(prefix)) continue;
      const rel = path.slice(prefix.length);
      if (rel === '.git' || rel.startsWith('.git/')) continue;
      const sha256 = createHash('sha256').update(content).digest('hex');
      entries.push({ path: rel, kind: 'file', size: bytes(content), sha256 });
    }
    return { entries, truncated: false };
  }

  async putArchive(): Promise<void> {
    throw new Error('MemorySandbox holds files put one by one; it does not unpack archives');
  }

  async release(): Promise<void> {
    this.released = true;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  // ---- internals ----

  private check(): void {
    if (this.released) throw hgymError('HGYM_ERR_SANDBOX_RELEASED', this.id);
  }

  private enter(op: FileOp, path: string): void {
    this.check();
    this.calls.push({ op, path });
    const fault = this.options.fault?.(op, path);
    if (fault) throw fault;
  }

  private refuseReadOnly(path: string): void {
    const ro = this.options.readOnly ?? [];
    if (ro.some((p) => path === p || path.startsWith(p.endsWith('/') ? p : `${p}/`))) {
      throw new SandboxFileError('EROFS', `Read-only file system: ${path}`);
    }
  }

  private isDir(path: string): boolean {
    if (this.dirs.has(path)) return true;
    const prefix = path.endsWith('/') ? path : `${path}/`;
    for (const p of this.files.keys()) if (p.startsWith(prefix)) return true;
    return false;
  }

  private mkdirs(path: string): void {
    const missing: string[] = [];
    for (let p = path; !this.dirs.has(p); p = posix.dirname(p)) {
      if (this.files.has(p)) throw new SandboxFileError('ENOTDIR', `Not a directory: ${p}`);
      missing.push(p);
    }
    for (const p of missing) this.dirs.add(p);
  }

  private children(dir: string): string[] {
    const prefix = dir === '/' ? '/' : `${dir}/`;
    const names = new Set<string>();
    for (const p of [...this.dirs, ...this.files.keys()]) {
      if (p.startsWith(prefix) && p.length > prefix.length) names.add(p.slice(prefix.length).split('/')[0]!);
    }
    return [...names].sort();
  }
}
