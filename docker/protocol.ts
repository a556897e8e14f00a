/**
 * The server side of the executor protocol: newline-delimited JSON frames over a
 * container's attached stdio, multiplexed by Docker (8-byte headers, Tty off), or over the
 * sandbox's direct channel (docker/channel.ts) once its executor connected to it.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ExecutorChannel } from './channel.js';
import { hgymError } from '../env/errors.js';
import type { OutputChunk } from '../env/sandbox.js';

export interface Frame {
  id?: number | null;
  type: string;
  [key: string]: unknown;
}

interface Pending {
  resolve(frame: Frame): void;
  reject(err: Error): void;
  onOutput?: ((chunk: OutputChunk) => void) | undefined;
  timer: NodeJS.Timeout;
}

const HEADER = 8;

/** Splits Docker's multiplexed attach stream into stdout and stderr payloads. */
class Demuxer {
  private buf: Buffer = Buffer.alloc(0);

  constructor(private readonly onPayload: (stream: number, payload: Buffer) => void) {}

  push(data: Buffer): void {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    while (this.buf.length >= HEADER) {
      const size = this.buf.readUInt32BE(4);
      if (this.buf.length < HEADER + size) return;
      this.onPayload(this.buf[0] ?? 1, this.buf.subarray(HEADER, HEADER + size));
      this.buf = this.buf.subarray(HEADER + size);
    }
  }
}

export class ExecutorConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private lineParts: Buffer[] = [];
  private readyResolve!: (frame: Frame) => void;
  private lostReason: string | null = null;
  /** Resolves with the executor's `ready` frame. */
  readonly ready: Promise<Frame>;
  private readonly lostListeners: ((reason: string) => void)[] = [];
  /** The executor's direct channel once it connected; until then (or without one) frames go over the attach. */
  private socket: Socket | null = null;

  constructor(
    private readonly stream: Duplex,
    private readonly log: (line: string) => void = () => {},
    private readonly channel?: ExecutorChannel,
  ) {
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
    // Once the executor says ready, on either way, nothing may connect any more.
    void this.ready.then(() => channel?.close());
    void channel?.connected.then((socket) => socket && this.useSocket(socket));
    const demux = new Demuxer((kind, payload) => (kind === 2 ? this.onStderr(payload) : this.onAttachedStdout(payload)));
    // Attach the handlers before anything else can happen: frames sent before they are
    // attached would be lost.
    stream.on('data', (data: Buffer) => demux.push(data));
    stream.on('end', () => this.markLost('the container exited'));
    stream.on('close', () => this.markLost('the container exited'));
    stream.on('error', (err) => this.markLost(`attach stream failed: ${err.message}`));
  }

  get lost(): string | null {
    return this.lostReason;
  }

  /** How frames travel: over the direct channel, or the attached stdio. */
  get transport(): 'channel' | 'attach' {
    return this.socket === null ? 'attach' : 'channel';
  }

  private useSocket(socket: Socket): void {
    if (this.lostReason !== null) return void socket.destroy();
    this.socket = socket;
    socket.on('data', (data: Buffer) => this.onStdout(data));
    socket.on('end', () => this.markLost('the executor closed its channel'));
    socket.on('close', () => this.markLost('the executor closed its channel'));
    socket.on('error', (err) => this.markLost(`the executor's channel failed: ${err.message}`));
  }

  onLost(listener: (reason: string) => void): void {
    if (this.lostReason !== null) listener(this.lostReason);
    else this.lostListeners.push(listener);
  }

  /**
   * Sends one request and resolves with its final answer frame. `out` frames for the
   * request go to onOutput. Rejects with HGYM_ERR_SANDBOX_LOST if no answer comes within
   * deadlineMs or the container goes away.
   */
  request(body: Record<string, unknown>, deadlineMs: number, onOutput?: (chunk: OutputChunk) => void): Promise<Frame> {
    if (this.lostReason !== null) return Promise.reject(hgymError('HGYM_ERR_SANDBOX_LOST', this.lostReason));
    const id = this.nextId++;
    return new Promise<Frame>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.markLost(`the executor did not answer a ${String(body.op)} request within ${deadlineMs} ms`);
      }, deadlineMs);
      this.pending.set(id, { resolve, reject, onOutput, timer });
      (this.socket ?? this.stream).write(JSON.stringify({ ...body, id }) + '\n');
    });
  }

  /** Ends the connection; outstanding requests fail as lost. */
  close(reason: string): void {
    this.markLost(reason);
    this.stream.destroy();
    this.socket?.destroy();
  }

  private markLost(reason: string): void {
    if (this.lostReason !== null) return;
    this.lostReason = reason;
    this.channel?.close();
    const err = hgymError('HGYM_ERR_SANDBOX_LOST', reason);
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    for (const listener of this.lostListeners.splice(0)) listener(reason);
  }

  private onStderr(payload: Buffer): void {
    const text = payload.toString('utf8').trimEnd();
    if (text) this.log(text);
  }

  /** The container's stdout: frames until the executor connected its channel, and nothing after. */
  private onAttachedStdout(payload: Buffer): void {
    if (this.socket === null) return this.onStdout(payload);
    this.log(`output on the attached stdout of an executor that speaks over its channel: ${payload.subarray(0, 200).toString('utf8')}`);
  }

  private onStdout(payload: Buffer): void {
    let start = 0;
    for (let nl = payload.indexOf(10, start); nl >= 0; nl = payload.indexOf(10, start)) {
      this.lineParts.push(payload.subarray(start, nl));
      const line = this.lineParts.length === 1 ? this.lineParts[0]! : Buffer.concat(this.lineParts);
      this.lineParts = [];
      start = nl + 1;
      this.onLine(line);
    }
    if (start < payload.length) this.lineParts.push(Buffer.from(payload.subarray(start)));
  }

  private onLine(line: Buffer): void {
    let frame: Frame;
    try {
      frame = JSON.parse(line.toString('utf8')) as Frame;
    } catch {
      this.log(`unparseable executor frame: ${line.subarray(0, 200).toString('utf8')}`);
      return;
    }
    if (frame.type === 'ready') return this.readyResolve(frame);
    if (frame.type === 'expired') return this.markLost('the sandbox reached its maximum lifetime');
    if (typeof frame.id !== 'number') {
      if (frame.type === 'error') this.log(`executor error: ${String(frame.message)}`);
      return;
    }
    const p = this.pending.get(frame.id);
    if (!p) return;
    if (frame.type === 'out') {
      p.onOutput?.({ stream: frame.stream === 'stderr' ? 'stderr' : 'stdout', data: String(frame.data) });
      return;
    }
    clearTimeout(p.timer);
    this.pending.delete(frame.id);
    p.resolve(frame);
  }
}
