/**
 * The catalogue of hgym's error codes: each code's HTTP status, message template and
 * description. Every error hgym reports to a trainer carries one of these codes; docs/errors.md
 * lists them and a test keeps the two in step. It lives with the schemas because it is part of
 * the wire contract: clients read it without importing the server's domain (env/).
 * Tests and clients branch on `code`, never on the message.
 */
export const ERRORS = {
  HGYM_ERR_SANDBOX_LOST: {
    status: 502,
    message: 'The sandbox was lost: %s',
    doc: 'The container running the episode died or stopped answering (killed from outside, out of memory, engine restart). The episode cannot continue; this is an infrastructure failure, never a reward of 0.',
  },
  HGYM_ERR_SANDBOX_START: {
    status: 503,
    message: 'A sandbox could not be started: %s',
    doc: 'Creating or starting a container failed, or its executor did not report ready in time. The container was removed.',
  },
  HGYM_ERR_SANDBOX_RELEASED: {
    status: 409,
    message: 'The sandbox %s was already released',
    doc: 'A call was made on a sandbox handle after it was released. Handles are never reused.',
  },
  HGYM_ERR_SANDBOX_BUSY: {
    status: 409,
    message: 'The sandbox is already running a command',
    doc: 'One command at a time runs in a sandbox; a second exec was sent before the first finished.',
  },
  HGYM_ERR_POOL_CLOSED: {
    status: 503,
    message: 'The sandbox pool is closed',
    doc: 'The pool is draining or was destroyed (the server is shutting down); no new sandbox is handed out.',
  },
  HGYM_ERR_SHUTTING_DOWN: {
    status: 503,
    message: 'The server is shutting down',
    doc: 'The server is closing: it finishes what it has started and takes no new request. Send the request to another server, or again once this one is back (the answer carries Retry-After).',
  },
  HGYM_ERR_CAPACITY: {
    status: 503,
    message: 'No sandbox is free: %s',
    doc: 'Every sandbox the pool may run is leased and none was released within the wait. Retry later (the HTTP answer carries Retry-After).',
  },
  HGYM_ERR_DOCKER_UNAVAILABLE: {
    status: 503,
    message: 'The Docker engine is not reachable: %s',
    doc: 'No Docker engine answers at the configured address. Run `npx hgym setup` (or start dockerd / set DOCKER_HOST).',
  },
  HGYM_ERR_IMAGE_MISSING: {
    status: 503,
    message: 'The sandbox image %s is not present',
    doc: 'The sandbox image, or the environment image of a repository the corpus serves, has not been built on this engine. Run `npx hgym setup`; `hgym serve --corpus DIR` builds a corpus\'s environment images from their records.',
  },
  HGYM_ERR_EXECUTOR: {
    status: 502,
    message: 'The sandbox executor failed: %s',
    doc: 'The in-container executor answered with an error the request could not have caused (a protocol or I/O failure inside the sandbox).',
  },
  HGYM_ERR_BAD_REQUEST: {
    status: 400,
    message: 'The request is malformed: %s',
    doc: 'The body is not valid JSON, or does not match the route\'s schema; the message carries the schema\'s complaint.',
  },
  HGYM_ERR_UNAUTHORIZED: {
    status: 401,
    message: 'A valid bearer token is required',
    doc: 'HGYM_API_KEY is set on the server and the request has no `Authorization: Bearer <key>` header with that key.',
  },
  HGYM_ERR_NOT_FOUND: {
    status: 404,
    message: 'Not found: %s',
    doc: 'No such route, episode, schema or task instance.',
  },
  HGYM_ERR_EPISODE_ENDED: {
    status: 409,
    message: 'Episode %s has ended (%s); start a new one with reset',
    doc: 'A step was sent to an episode that is grading or has ended (terminated, truncated, closed or failed).',
  },
  HGYM_ERR_CORPUS_LEAK: {
    status: 500,
    message: 'The sandbox image %s holds files of the corpus at %s',
    doc: 'Setup (`hgym setup`, which `hgym serve` runs first) found that a repository the corpus serves has a file whose exact bytes are in the image its episodes run in (the sandbox image or its environment\'s), where an agent could copy the original back. Nothing is served; the message names the repositories, the files and where the image holds them.',
  },
  HGYM_ERR_GRADING_FAILED: {
    status: 500,
    message: 'Grading could not complete: %s',
    doc: 'Grading failed for a reason the agent could not have caused (the server\'s prepared workspace unreadable, the grading sandbox unobtainable, a runner that could not start). The episode ends as `failed`, its sandbox released; it is never left running or answered with a reward.',
  },
  HGYM_ERR_INTERNAL: {
    status: 500,
    message: 'Internal error: %s',
    doc: 'A failure inside the server that no other code describes. It is logged with the request id.',
  },
} as const;

export type ErrorCode = keyof typeof ERRORS;
