/**
 * What the client throws. A server that answered with an error gives an HgymApiError carrying
 * its stable `code` (listed in docs/errors.md): branch on that, never on the message. A server
 * that could not be reached in time, or a socket that dropped, gives an HgymConnectionError:
 * the request may or may not have taken effect.
 */
import { ERRORS, type ErrorCode } from '../../schemas/errors.js';
import type { ErrorBody } from './types.js';

export type { ErrorCode };

/** The code of an HTTP answer that did not carry one of hgym's (a proxy's error page). */
export const UNCODED = 'HGYM_ERR_HTTP';

export class HgymApiError extends Error {
  /**
   * The server's code, e.g. `HGYM_ERR_EPISODE_ENDED`. A string rather than ErrorCode: a newer
   * server may send codes this client does not know.
   */
  readonly code: string;
  /** The HTTP status; over WebSocket, the status the same error has over REST. */
  readonly statusCode: number;

  constructor(statusCode: number, code: string, message: string) {
    super(message);
    this.name = 'HgymApiError';
    this.code = code;
    this.statusCode = statusCode;
  }

  /** From an HTTP answer that is not a 2xx, whose body should be `{status_code, code, error, message}`. */
  static fromHttp(status: number, text: string): HgymApiError {
    const body = parseJson(text) as Partial<ErrorBody> | undefined;
    if (typeof body?.code === 'string' && typeof body.message === 'string') return new HgymApiError(status, body.code, body.message);
    return new HgymApiError(status, UNCODED, `HTTP ${status}: ${text.slice(0, 500)}`);
  }

  /** From a WebSocket `error` frame, which carries the status the same error has over REST. */
  static fromFrame(frame: { status_code?: number; code: string; message: string }): HgymApiError {
    const status = frame.status_code ?? (frame.code in ERRORS ? ERRORS[frame.code as ErrorCode].status : 500);
    return new HgymApiError(status, frame.code, frame.message);
  }
}

export class HgymConnectionError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HgymConnectionError';
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
