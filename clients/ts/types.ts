/**
 * The shapes the client sends and receives, derived from the server's own JSON Schemas in
 * `schemas/` (type-only imports: the client carries no schema code at run time).
 */
import type { Static } from '@sinclair/typebox';
import type {
  ClosedAnswer,
  EpisodeState as EpisodeStateSchema,
  ErrorAnswer,
  HealthAnswer,
  ReadyAnswer,
  ResetAnswer,
  ResetBody,
  StepAnswer,
  TasksAnswer,
  ToolsAnswer,
  TrajectoryAnswer,
} from '../../schemas/api.js';
import type { Action as ActionSchema, ExecuteBashArgs, FinishArgs, StrReplaceEditorArgs, ThinkArgs } from '../../schemas/tools.js';
import type { ClientFrame as ClientFrameSchema, ServerFrame as ServerFrameSchema } from '../../schemas/ws.js';

export type ResetRequest = Static<typeof ResetBody>;
export type ResetResult = Static<typeof ResetAnswer>;
export type Action = Static<typeof ActionSchema>;
export type StepResult = Static<typeof StepAnswer>;
export type EpisodeState = Static<typeof EpisodeStateSchema>;
export type Trajectory = Static<typeof TrajectoryAnswer>;
export type Closed = Static<typeof ClosedAnswer>;
export type Tools = Static<typeof ToolsAnswer>;
export type Tasks = Static<typeof TasksAnswer>;
export type Health = Static<typeof HealthAnswer>;
export type Ready = Static<typeof ReadyAnswer>;
export type ErrorBody = Static<typeof ErrorAnswer>;

export type ClientFrame = Static<typeof ClientFrameSchema>;
export type ServerFrame = Static<typeof ServerFrameSchema>;
/** One chunk of a running command's stdout or stderr, as the WebSocket streams it. */
export type OutputChunk = Omit<Extract<ServerFrame, { type: 'output' }>, 'type'>;

/** Each tool's arguments, by tool name. */
export interface ToolArguments {
  execute_bash: Static<typeof ExecuteBashArgs>;
  str_replace_editor: Static<typeof StrReplaceEditorArgs>;
  think: Static<typeof ThinkArgs>;
  finish: Static<typeof FinishArgs>;
}

/** A tool call whose arguments are checked against that tool's schema at compile time. */
export function toolCall<T extends keyof ToolArguments>(tool: T, args: ToolArguments[T]): Action {
  return { tool, arguments: args };
}

/**
 * reset, step and close, the same over REST and over WebSocket: an agent loop written
 * against this interface runs over either transport.
 */
export interface EpisodeTransport {
  reset(request?: ResetRequest): Promise<ResetResult>;
  step(episodeId: string, action: Action): Promise<StepResult>;
  close(episodeId: string): Promise<Closed>;
}
