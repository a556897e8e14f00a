/**
 * The WebSocket client: one connection carrying any number of episodes at once. Each request
 * frame gets a fresh `id` and its answer is matched by that id, so requests may overlap; a
 * step's `output` frames (the command's stdout and stderr as they are produced) go to the
 * `onOutput` callbacks before the step resolves.
 */
import type { IncomingMessage } from 'node:http';
import { WebSocket, type RawData } from 'ws';
import { HgymApiError, HgymConnectionError } from './errors.js';
import { DEFAULT_TIMEOUT_MS, DEFAULT_URL, type ClientOptions } from './rest.js';
import type { Action, ClientFrame, Closed, EpisodeTransport, OutputChunk, ResetRequest, ResetResult, ServerFrame, StepResult } from './types.js';

export type OnOutput = (chunk: OutputChunk) => void;

export interface SocketOptions extends ClientOptions {
  /** Called with every output chunk of every step sent on this socket. */
  onOutput?: OnOutput;
}

export interface StepOptions {
  /** Called with each output chunk of this step, before the step resolves. */
  onOutput?: OnOutput;
}

type Answer<T extends ServerFrame['type']> = Extract<ServerFrame, { type: T }>;

interface Pending {
  expect: ServerFrame['type'];
  resolve: (frame: ServerFrame) => void;
  reject: (err: Error) => void;
  onOutput: OnOutput | undefined;
  timer: NodeJS.Timeout;
}

export class HgymSocket implements EpisodeTransport, AsyncDisposable {
  readonly #ws: WebSocket;
  readonly #timeoutMs: number;
  readonly #onOutput: OnOutput | undefined;
  readonly #pending = new Map<string | number, Pending>();
  readonly #opened: Promise<void>;
  readonly #closed: Promise<void>;
  #next = 0;
  #lastError: Error | undefined;
  #isClosed = false;

  /** Opens a socket to `<url>/v1/ws`. A refused upgrade (a wrong API key) throws its HgymApiError. */
  static async connect(options: SocketOptions = {}): Promise<HgymSocket> {
    const socket = new HgymSocket(options);
    await socket.#opened;
    return socket;
  }

  private constructor(options: SocketOptions) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#onOutput = options.onOutput;
    const url = `${(options.url ?? DEFAULT_URL).replace(/\/+$/, '').replace(/^http/, 'ws')}/v1/ws`;
    this.#ws = new WebSocket(url, {
      headers: options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
      handshakeTimeout: this.#timeoutMs,
      perMessageDeflate: false,
    });
    // Every handler is attached here, before any await: an answer must never find no listener.
    this.#ws.on('message', (data: RawData, isBinary: boolean) => this.#receive(isBinary ? '' : String(data)));
    this.#ws.on('error', (err) => (this.#lastError = err));
    this.#closed = new Promise((resolve) =>
      this.#ws.once('close', (code: number, reason: Buffer) => {
        this.#isClosed = true;
        const why = `the socket closed (${code}${reason.length > 0 ? ` ${String(reason)}` : ''})`;
        for (const [id, pending] of this.#pending) this.#settle(id, pending, () => pending.reject(new HgymConnectionError(why, { cause: this.#lastError })));
        resolve();
      }),
    );
    this.#opened = new Promise((resolve, reject) => {
      this.#ws.once('open', () => resolve());
      void this.#closed.then(() => reject(new HgymConnectionError(`cannot connect to ${url}`, { cause: this.#lastError })));
      // The server refused the upgrade: its answer is a coded error body, as over REST.
      this.#ws.once('unexpected-response', (request, response: IncomingMessage) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.once('end', () => {
          reject(HgymApiError.fromHttp(response.statusCode ?? 0, text));
          request.destroy();
        });
      });
    });
  }

  reset(request: ResetRequest = {}): Promise<ResetResult> {
    return this.#request({ ...request, type: 'reset', id: this.#next++ }, 'reset_result').then(({ type: _t, id: _i, ...result }) => result);
  }

  /** Runs one action; the command's output streams to `onOutput` while it runs. */
  step(episodeId: string, action: Action, options: StepOptions = {}): Promise<StepResult & { episode_id: string }> {
    return this.#request({ type: 'step', id: this.#next++, episode_id: episodeId, action }, 'step_result', options.onOutput).then(({ type: _t, id: _i, ...result }) => result);
  }

  /** Releases the episode's sandbox; idempotent. */
  close(episodeId: string): Promise<Closed> {
    return this.#request({ type: 'close', id: this.#next++, episode_id: episodeId }, 'closed').then(({ type: _t, id: _i, ...result }) => result);
  }

  async ping(): Promise<void> {
    await this.#request({ type: 'ping', id: this.#next++ }, 'pong');
  }

  /**
   * Closes the socket; requests still waiting reject with an HgymConnectionError. The
   * server closes this socket's episodes after its grace period unless another client uses
   * them: close episodes first to release their sandboxes at once.
   */
  async disconnect(): Promise<void> {
    if (this.#isClosed) return;
    this.#ws.close(1000);
    // A server that never completes the closing handshake must not hold the caller.
    const timer = setTimeout(() => this.#ws.terminate(), 5_000);
    await this.#closed;
    clearTimeout(timer);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  #request<T extends ServerFrame['type']>(frame: ClientFrame, expect: T, onOutput?: OnOutput): Promise<Answer<T>> {
    return new Promise((resolve, reject) => {
      if (this.#isClosed || this.#ws.readyState !== WebSocket.OPEN) return reject(new HgymConnectionError('the socket is not open', { cause: this.#lastError }));
      const timer = setTimeout(() => {
        this.#settle(frame.id, pending, () => reject(new HgymConnectionError(`no answer to ${frame.type} ${frame.id} within ${this.#timeoutMs} ms`)));
      }, this.#timeoutMs);
      const pending: Pending = { expect, resolve: resolve as (f: ServerFrame) => void, reject, onOutput, timer };
      this.#pending.set(frame.id, pending);
      this.#ws.send(JSON.stringify(frame));
    });
  }

  #settle(id: string | number, pending: Pending, done: () => void): void {
    clearTimeout(pending.timer);
    this.#pending.delete(id);
    done();
  }

  #receive(text: string): void {
    let frame: ServerFrame;
    try {
      frame = JSON.parse(text) as ServerFrame;
    } catch {
      return; // The server sends JSON text frames only; nothing else can be matched to a request.
    }
    // An error with a null id answers a frame the server could not read; this client sends none.
    const pending = frame.id === null ? undefined : this.#pending.get(frame.id);
    if (!pending) return; // answers to a request that already timed out
    if (frame.type === 'output') {
      const { type: _type, ...chunk } = frame;
      try {
        pending.onOutput?.(chunk);
        this.#onOutput?.(chunk);
      } catch (err) {
        // A throwing callback fails its own step, not the socket (the command still runs on).
        this.#settle(frame.id, pending, () => pending.reject(err as Error));
      }
      return;
    }
    this.#settle(frame.id!, pending, () => {
      if (frame.type === 'error') pending.reject(HgymApiError.fromFrame(frame));
      else if (frame.type !== pending.expect) pending.reject(new HgymConnectionError(`expected ${pending.expect}, got ${frame.type}`));
      else pending.resolve(frame);
    });
  }
}
