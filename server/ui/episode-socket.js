// @ts-check
/**
 * Episodes over the server's WebSocket (/v1/ws): each request frame gets a fresh `id`, and the
 * answer that echoes it settles the request's promise. `output` frames of a running command
 * go to that request's listener as they arrive, before its `step_result`.
 */
import { ApiError } from './api-error.js';

/**
 * @typedef {{ stream: 'stdout' | 'stderr', data: string }} OutputChunk
 * @typedef {{ resolve: (frame: any) => void, reject: (err: Error) => void, onOutput?: (chunk: OutputChunk) => void }} Pending
 */

export class EpisodeSocket {
  /** @param {WebSocket} socket */
  constructor(socket) {
    this.socket = socket;
    this.nextId = 1;
    /** @type {Map<number, Pending>} */
    this.pending = new Map();
    socket.addEventListener('message', (event) => this.receive(String(event.data)));
    socket.addEventListener('close', () => {
      for (const waiter of this.pending.values()) waiter.reject(new Error('the connection to the server closed'));
      this.pending.clear();
    });
  }

  /**
   * Opens a socket; rejects when the server refuses it (a wrong key is refused before it opens).
   * @param {string} url
   * @param {string[]} protocols
   * @returns {Promise<EpisodeSocket>}
   */
  static open(url, protocols) {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url, protocols);
      const refused = () => reject(new Error('the server refused the WebSocket connection'));
      socket.addEventListener('close', refused, { once: true });
      socket.addEventListener(
        'open',
        () => {
          socket.removeEventListener('close', refused);
          resolve(new EpisodeSocket(socket));
        },
        { once: true },
      );
    });
  }

  get open() {
    return this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Sends a request frame and resolves with its answer frame (`error` frames reject).
   * @param {Record<string, unknown>} frame
   * @param {(chunk: OutputChunk) => void} [onOutput]
   * @returns {Promise<any>}
   */
  request(frame, onOutput) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, onOutput });
      this.socket.send(JSON.stringify({ ...frame, id }));
    });
  }

  /** @param {string} text */
  receive(text) {
    const frame = JSON.parse(text);
    const waiter = this.pending.get(frame.id);
    if (!waiter) return;
    if (frame.type === 'output') {
      waiter.onOutput?.({ stream: frame.stream, data: frame.data });
      return;
    }
    this.pending.delete(frame.id);
    if (frame.type === 'error') waiter.reject(new ApiError(frame.message, frame.code, frame.status_code));
    else waiter.resolve(frame);
  }

  close() {
    this.socket.close();
  }
}
