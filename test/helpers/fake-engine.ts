/**
 * An in-memory ContainerEngine for unit tests of the pool's logic: no Docker. Each container's
 * attach stream emulates a minimal executor (docker/executor/__main__.py): after start it writes
 * the `ready` frame, answers `ping` with a pong, `exec` with an exit frame, `halt` with a halted
 * frame and `untar` (after `untarMs`) with a written frame, all multiplexed as
 * Docker does (8-byte header, stdout). Knobs let a test take the engine down (calls refused, live
 * streams ended, as when dockerd dies), slow every call, fail creates or leave an executor silent.
 */
import { Duplex, Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { ContainerEngine, CreatedContainer, ListedContainer, SandboxSpec } from '../../docker/engine.js';

export interface FakeContainer {
  id: string;
  image: string;
  labels: Record<string, string>;
  /** `created`, `running` or `exited`, as the engine lists it. */
  state: string;
}

type Call = 'ping' | 'imageId' | 'exportImage' | 'loadImage' | 'create' | 'start' | 'remove' | 'list' | 'setCpuShares';

interface Live {
  container: FakeContainer;
  stream: Duplex | null;
  /** Still counted in `startsInFlight`: created, not yet ready, failed or removed. */
  starting: boolean;
  silent: boolean;
}

/** One frame as Docker's multiplexed attach stream carries it on stdout. */
function muxed(frame: Record<string, unknown>): Buffer {
  const payload = Buffer.from(JSON.stringify(frame) + '\n', 'utf8');
  const header = Buffer.alloc(8);
  header[0] = 1;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** What the engine's socket gives when dockerd is gone: dockerode passes node's error through. */
function refused(name: string): Error {
  return Object.assign(new Error(`connect ECONNREFUSED ${name}`), { code: 'ECONNREFUSED' });
}

export class FakeEngine implements ContainerEngine {
  /** Image name → id; a test may set or delete entries. */
  readonly images: Map<string, string>;
  /** Every call made, by method, refused ones included. */
  readonly calls: Record<Call, number> = { ping: 0, imageId: 0, exportImage: 0, loadImage: 0, create: 0, start: 0, remove: 0, list: 0, setCpuShares: 0 };
  /** Milliseconds each call takes before it answers. */
  latencyMs = 0;
  startsInFlight = 0;
  maxStartsInFlight = 0;
  /** Milliseconds an executor takes to unpack an archive, and how many unpack at once. */
  untarMs = 0;
  untarsInFlight = 0;
  maxUntarsInFlight = 0;
  removesInFlight = 0;
  maxRemovesInFlight = 0;
  /** Containers whose executor was asked to halt, by id. */
  readonly halted = new Set<string>();
  /** When set, executors answer halt with an error. */
  refuseHalt = false;
  /** Milliseconds an executor takes to answer a ping (a readiness check). */
  pongMs = 0;
  /** CPU weights set on containers, by id; and whether the engine refuses to set one. */
  readonly cpuShares = new Map<string, number>();
  refuseCpuShares = false;
  private readonly live = new Map<string, Live>();
  private isDown = false;
  private failing = 0;
  private silencing = 0;
  private nextId = 1;

  constructor(
    readonly name: string,
    images: Record<string, string> = {},
  ) {
    this.images = new Map(Object.entries(images));
  }

  /** Every call rejects (ECONNREFUSED) and every container's stream ends, as when dockerd dies. */
  down(): void {
    this.isDown = true;
    for (const live of this.live.values()) {
      live.container.state = 'exited';
      this.settle(live);
      this.end(live);
    }
  }

  up(): void {
    this.isDown = false;
  }

  /** The next `n` creates fail as the engine would (HTTP 500). */
  failCreates(n: number): void {
    this.failing = n;
  }

  /** The next `n` containers start but their executor never says ready. */
  silentCreates(n: number): void {
    this.silencing = n;
  }

  /** Ends a container's stream as if its process died (the container stays listed as exited). */
  kill(id: string): void {
    const live = this.live.get(id);
    if (!live) return;
    live.container.state = 'exited';
    this.end(live);
  }

  /** Puts a container on the engine that no stream of this process is attached to (left by an earlier owner). */
  plant(labels: Record<string, string>, state = 'running', image = 'planted'): string {
    const id = this.newId();
    this.live.set(id, { container: { id, image, labels, state }, stream: null, starting: false, silent: false });
    return id;
  }

  containers(): FakeContainer[] {
    return [...this.live.values()].map((l) => ({ ...l.container, labels: { ...l.container.labels } }));
  }

  async ping(timeoutMs: number): Promise<void> {
    await this.call('ping');
    if (this.latencyMs >= timeoutMs) throw new Error(`${this.name} did not answer within ${timeoutMs} ms`);
  }

  async imageId(image: string): Promise<string | null> {
    await this.call('imageId');
    return this.images.get(image) ?? null;
  }

  async exportImage(image: string): Promise<Readable> {
    await this.call('exportImage');
    const id = this.images.get(image);
    if (id === undefined) throw Object.assign(new Error(`No such image: ${image}`), { statusCode: 404 });
    return Readable.from([JSON.stringify({ name: image, id })]);
  }

  async loadImage(tar: Readable): Promise<void> {
    await this.call('loadImage');
    let text = '';
    for await (const chunk of tar) text += String(chunk);
    const { name, id } = JSON.parse(text) as { name: string; id: string };
    this.images.set(name, id);
  }

  async create(spec: SandboxSpec): Promise<CreatedContainer> {
    await this.call('create');
    if (this.failing > 0) {
      this.failing--;
      throw Object.assign(new Error('(HTTP code 500) server error - injected create failure'), { statusCode: 500 });
    }
    if (!this.images.has(spec.image)) throw Object.assign(new Error(`(HTTP code 404) no such image: ${spec.image}`), { statusCode: 404 });
    const id = this.newId();
    const silent = this.silencing > 0;
    if (silent) this.silencing--;
    const live: Live = { container: { id, image: spec.image, labels: { ...spec.labels }, state: 'created' }, stream: null, starting: true, silent };
    live.stream = new Duplex({
      read() {},
      write: (chunk: Buffer, _enc, cb) => {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) this.answer(live, JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    this.live.set(id, live);
    this.startsInFlight++;
    this.maxStartsInFlight = Math.max(this.maxStartsInFlight, this.startsInFlight);
    return { id, stream: live.stream };
  }

  async start(id: string): Promise<void> {
    await this.call('start');
    const live = this.live.get(id);
    if (!live) throw Object.assign(new Error(`No such container: ${id}`), { statusCode: 404 });
    live.container.state = 'running';
    if (live.silent) return;
    setImmediate(() => {
      if (live.container.state !== 'running') return;
      this.settle(live);
      live.stream?.push(muxed({ type: 'ready', protocol: 1, pids_max: 256 }));
    });
  }

  async remove(id: string): Promise<void> {
    this.removesInFlight++;
    this.maxRemovesInFlight = Math.max(this.maxRemovesInFlight, this.removesInFlight);
    try {
      await this.call('remove');
    } finally {
      this.removesInFlight--;
    }
    const live = this.live.get(id);
    if (!live) return;
    this.live.delete(id);
    this.settle(live);
    this.end(live);
  }

  async setCpuShares(id: string, shares: number): Promise<void> {
    await this.call('setCpuShares');
    if (this.refuseCpuShares) throw Object.assign(new Error('CPU shares are not supported'), { statusCode: 500 });
    if (!this.live.has(id)) throw Object.assign(new Error(`No such container: ${id}`), { statusCode: 404 });
    this.cpuShares.set(id, shares);
  }

  async list(label: string): Promise<ListedContainer[]> {
    await this.call('list');
    return this.containers()
      .filter((c) => label in c.labels)
      .map(({ id, labels, state }) => ({ id, labels, state }));
  }

  private async call(name: Call): Promise<void> {
    this.calls[name]++;
    if (this.latencyMs > 0) await delay(this.latencyMs);
    if (this.isDown) throw refused(this.name);
  }

  private answer(live: Live, request: Record<string, unknown>): void {
    const id = request.id;
    if (request.op === 'untar') {
      this.untarsInFlight++;
      this.maxUntarsInFlight = Math.max(this.maxUntarsInFlight, this.untarsInFlight);
      setTimeout(() => {
        this.untarsInFlight--;
        live.stream?.push(muxed({ id, type: 'written', bytes: String(request.data).length }));
      }, this.untarMs);
      return;
    }
    if (request.op === 'halt' && !this.refuseHalt) this.halted.add(live.container.id);
    const frame =
      request.op === 'halt' && !this.refuseHalt
        ? { id, type: 'halted' }
        : request.op === 'ping'
        ? { id, type: 'pong', busy: false }
        : request.op === 'exec'
          ? { id, type: 'exit', exit_code: 0, timed_out: false, output: `ran: ${String(request.command)}`, output_chars: 0, cut_chars: 0, cwd: '/workspace', duration_ms: 1 }
          : { id, type: 'error', code: 'ENOSYS', message: `the fake executor does not do ${String(request.op)}` };
    const answer = () => live.stream?.push(muxed(frame));
    if (request.op === 'ping' && this.pongMs > 0) setTimeout(answer, this.pongMs);
    else setImmediate(answer);
  }

  private settle(live: Live): void {
    if (!live.starting) return;
    live.starting = false;
    this.startsInFlight--;
  }

  private end(live: Live): void {
    const stream = live.stream;
    live.stream = null;
    if (stream && !stream.destroyed) stream.push(null);
  }

  private newId(): string {
    return `${this.name.replace(/\W/g, '')}-${this.nextId++}`;
  }
}
