/**
 * The trajectory log's one writer. fs/promises `appendFile` writes a large record in 512 KiB
 * chunks, each landing at the end of the file wherever other appends have got to, so concurrent
 * appends of large records tore every line. Here every append to a file goes through one queue
 * in this process, and each record is one write of a whole line to a descriptor opened for
 * appending.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Trajectory } from './trajectory.js';

class LogFile {
  holders = 0;
  private handle: Promise<FileHandle> | null = null;
  /** Set while the file may end inside a record: the next record then starts on a new line. */
  private torn = false;

  constructor(
    readonly path: string,
    /** Appends run one after another; this is the last one queued. */
    private tail: Promise<void>,
  ) {}

  append(line: Buffer): Promise<void> {
    const written = this.tail.then(() => this.write(line));
    this.tail = written.catch(() => undefined);
    return written;
  }

  private async opened(): Promise<FileHandle> {
    this.handle ??= (async () => {
      await mkdir(dirname(this.path), { recursive: true });
      const fh = await open(this.path, 'a+');
      // A server killed mid-write leaves a partial last line; do not glue the next record to it.
      const { size } = await fh.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await fh.read(last, 0, 1, size - 1);
        this.torn = last[0] !== 10;
      }
      return fh;
    })();
    this.handle.catch(() => (this.handle = null));
    return this.handle;
  }

  private async write(line: Buffer): Promise<void> {
    const fh = await this.opened();
    const data = this.torn ? Buffer.concat([Buffer.from('\n'), line]) : line;
    // One write(2) on a regular file writes it all unless the disk fails; if it does, whatever
    // part landed stays a damaged line of its own, which readers report and skip.
    this.torn = true;
    let offset = 0;
    while (offset < data.length) offset += (await fh.write(data, offset)).bytesWritten;
    this.torn = false;
  }

  /** Resolves once every append queued so far has been tried. */
  flushed(): Promise<void> {
    return this.tail;
  }

  /** Resolves once every queued append has been tried and the descriptor is closed. */
  async close(): Promise<void> {
    await this.tail;
    const handle = this.handle;
    this.handle = null;
    if (handle) await (await handle).close();
  }
}

/** The open log files of this process, by absolute path: one writer per file however many servers share it. */
const files = new Map<string, LogFile>();
/** Files still flushing after their last holder closed: a reopen waits for them. */
const closing = new Map<string, Promise<void>>();

export class TrajectoryLogClosedError extends Error {
  readonly code = 'ERR_TRAJECTORY_LOG_CLOSED';
}

/**
 * A holder's handle on a trajectory log. Every handle on one path shares the file's queue;
 * the file is closed when the last handle is.
 */
export class TrajectoryLog {
  private file: LogFile | null;
  private closed: Promise<void> | null = null;

  private constructor(file: LogFile) {
    this.file = file;
  }

  /** Nothing is created on disk until the first append. */
  static open(path: string): TrajectoryLog {
    const key = resolve(path);
    let file = files.get(key);
    if (!file) {
      file = new LogFile(key, closing.get(key) ?? Promise.resolve());
      files.set(key, file);
    }
    file.holders++;
    return new TrajectoryLog(file);
  }

  get path(): string {
    if (!this.file) throw new TrajectoryLogClosedError('the trajectory log is closed');
    return this.file.path;
  }

  /** Appends one trajectory as one JSON line; resolves once it is written. */
  append(trajectory: Trajectory): Promise<void> {
    if (!this.file) return Promise.reject(new TrajectoryLogClosedError('the trajectory log is closed'));
    return this.file.append(Buffer.from(`${JSON.stringify(trajectory)}\n`));
  }

  /** Waits for the appends queued to the file so far, then lets it go (the last holder closes it); idempotent. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      const file = this.file;
      this.file = null;
      if (!file) return;
      if (--file.holders > 0) return file.flushed();
      files.delete(file.path);
      const done = file.close();
      const settled = done.catch(() => undefined);
      closing.set(file.path, settled);
      try {
        await done;
      } finally {
        if (closing.get(file.path) === settled) closing.delete(file.path);
      }
    })();
    return this.closed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
