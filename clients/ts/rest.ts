/**
 * The REST client: one method per route, over node:http (or node:https) with a keep-alive
 * agent of its own, so that connections are reused between calls. Not the global fetch: its
 * streams cost four to six times the CPU per request, which a trainer stepping hundreds of
 * episodes from one process pays on every step (docs/scaling.md).
 */
import http from 'node:http';
import https from 'node:https';
import { HgymApiError, HgymConnectionError } from './errors.js';
import type { Action, Closed, EpisodeState, EpisodeTransport, Health, Ready, ResetRequest, ResetResult, StepResult, Tasks, Tools, Trajectory } from './types.js';

export interface ClientOptions {
  /** The server's base URL (default http://127.0.0.1:8000). */
  url?: string;
  /** Sent as `Authorization: Bearer <key>`: needed when the server runs with HGYM_API_KEY. */
  apiKey?: string | undefined;
  /**
   * How long one request may take, in ms (default 300 s). A step runs a command (the server
   * caps that at 120 s by default) and the final one grades the episode, so keep it generous.
   */
  timeoutMs?: number;
}

export const DEFAULT_URL = 'http://127.0.0.1:8000';
export const DEFAULT_TIMEOUT_MS = 300_000;

export class HgymClient implements EpisodeTransport {
  readonly url: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;
  readonly #http: typeof http | typeof https;
  /** Idle connections are kept for the next call, unreferenced: they do not keep a process alive. */
  readonly #agent: http.Agent;

  constructor(options: ClientOptions = {}) {
    this.url = (options.url ?? DEFAULT_URL).replace(/\/+$/, '');
    this.#headers = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#http = new URL(this.url).protocol === 'https:' ? https : http;
    this.#agent = new this.#http.Agent({ keepAlive: true });
  }

  /** Starts an episode: `task` picks a family, `seed` an instance reproducibly, `instance_id` one exactly. */
  reset(request: ResetRequest = {}): Promise<ResetResult> {
    return this.#call('POST', '/v1/episodes', request);
  }

  /** Runs one action. The reward is 0 until the episode ends (a `finish`, or `max_steps`). */
  step(episodeId: string, action: Action): Promise<StepResult> {
    return this.#call('POST', `/v1/episodes/${encodeURIComponent(episodeId)}/step`, { action });
  }

  state(episodeId: string): Promise<EpisodeState> {
    return this.#call('GET', `/v1/episodes/${encodeURIComponent(episodeId)}`);
  }

  trajectory(episodeId: string): Promise<Trajectory> {
    return this.#call('GET', `/v1/episodes/${encodeURIComponent(episodeId)}/trajectory`);
  }

  /** Releases the episode's sandbox. Idempotent; `closed` is false only for an episode the server does not know. */
  close(episodeId: string): Promise<Closed> {
    return this.#call('DELETE', `/v1/episodes/${encodeURIComponent(episodeId)}`);
  }

  /** The action space in the OpenAI function-calling shape, ready to hand to a model. */
  tools(): Promise<Tools> {
    return this.#call('GET', '/v1/tools');
  }

  tasks(): Promise<Tasks> {
    return this.#call('GET', '/v1/tasks');
  }

  health(): Promise<Health> {
    return this.#call('GET', '/healthz');
  }

  /** Readiness. A server that is not ready answers 503 with its reasons; that is returned, not thrown. */
  ready(): Promise<Ready> {
    return this.#call('GET', '/readyz', undefined, [503]);
  }

  async #call<T>(method: string, path: string, body?: unknown, alsoOk: readonly number[] = []): Promise<T> {
    let status: number;
    let text: string;
    try {
      ({ status, text } = await this.#send(method, path, body === undefined ? null : JSON.stringify(body)));
    } catch (err) {
      throw new HgymConnectionError(`${method} ${this.url}${path}: ${(err as Error).message}`, { cause: err });
    }
    if ((status < 200 || status > 299) && !alsoOk.includes(status)) throw HgymApiError.fromHttp(status, text);
    return JSON.parse(text) as T;
  }

  /** One request; its answer's status and text, or an error if none came within the timeout. */
  #send(method: string, path: string, payload: string | null): Promise<{ status: number; text: string }> {
    const headers: Record<string, string | number> = { ...this.#headers };
    if (payload !== null) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
    return new Promise((resolve, reject) => {
      const req = this.#http.request(`${this.url}${path}`, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      // The whole exchange within the timeout, answer included; cleared as soon as it ends.
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      req.on('close', () => clearTimeout(timer));
      req.on('error', reject);
      req.end(payload ?? undefined);
    });
  }

}
