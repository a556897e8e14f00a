/**
 * The REST client: one method per route, over Node's global fetch (undici), which keeps
 * connections alive between calls.
 */
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

  constructor(options: ClientOptions = {}) {
    this.url = (options.url ?? DEFAULT_URL).replace(/\/+$/, '');
    this.#headers = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
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
    // A timer cleared as soon as the answer is read, rather than AbortSignal.timeout: a
    // trainer stepping a thousand times a second would otherwise keep minutes of timers alive.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.#timeoutMs);
    try {
      const res = await fetch(`${this.url}${path}`, {
        method,
        headers: body === undefined ? this.#headers : { ...this.#headers, 'content-type': 'application/json' },
        body: body === undefined ? null : JSON.stringify(body),
        signal: deadline.signal,
      });
      status = res.status;
      text = await res.text();
    } catch (err) {
      const reason = deadline.signal.aborted ? `no answer within ${this.#timeoutMs} ms` : String((err as Error).cause ?? err);
      throw new HgymConnectionError(`${method} ${this.url}${path}: ${reason}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    if ((status < 200 || status > 299) && !alsoOk.includes(status)) throw HgymApiError.fromHttp(status, text);
    return JSON.parse(text) as T;
  }
}
