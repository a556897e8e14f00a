/**
 * The TypeScript client of hgym's HTTP API: `HgymClient` over REST, `HgymSocket` over one
 * WebSocket carrying many episodes. Types derive from the server's JSON Schemas.
 */
export { HgymClient, DEFAULT_URL, DEFAULT_TIMEOUT_MS, type ClientOptions } from './rest.js';
export { HgymSocket, type SocketOptions, type StepOptions, type OnOutput } from './socket.js';
export { HgymApiError, HgymConnectionError, UNCODED, type ErrorCode } from './errors.js';
export { toolCall } from './types.js';
export type {
  Action,
  ClientFrame,
  Closed,
  EpisodeState,
  EpisodeTransport,
  ErrorBody,
  Health,
  OutputChunk,
  Ready,
  ResetRequest,
  ResetResult,
  ServerFrame,
  StepResult,
  Tasks,
  ToolArguments,
  Tools,
  Trajectory,
} from './types.js';
