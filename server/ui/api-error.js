// @ts-check
/** A refusal from the server, over REST or as a WebSocket `error` frame: its coded error's fields. */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {string} code the server's HGYM_ERR_* code
   * @param {number} status the HTTP status (a frame's `status_code`: the same error's status over REST)
   */
  constructor(message, code, status) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

/**
 * An error as one line for the page: `CODE: message` for a coded refusal, else its message.
 * @param {unknown} err
 */
export function describeError(err) {
  const e = /** @type {{ code?: string, message?: string } | null} */ (err);
  return e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err);
}
