/**
 * Coded errors: what the domain and the server throw. The codes, their statuses and messages
 * are the catalogue in schemas/errors.ts (part of the wire contract, which clients read too).
 */
import { ERRORS, type ErrorCode } from '../schemas/errors.js';

export { ERRORS, type ErrorCode };

export class HgymError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;

  constructor(code: ErrorCode, args: readonly unknown[] = [], options?: { cause?: unknown }) {
    const spec = ERRORS[code];
    let i = 0;
    super(spec.message.replace(/%s/g, () => String(args[i++] ?? '')), options);
    this.name = 'HgymError';
    this.code = code;
    this.statusCode = spec.status;
  }
}

export function hgymError(code: ErrorCode, ...args: unknown[]): HgymError {
  return new HgymError(code, args);
}

export function isHgymError(err: unknown, code?: ErrorCode): err is HgymError {
  return err instanceof HgymError && (code === undefined || err.code === code);
}
