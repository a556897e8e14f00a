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
