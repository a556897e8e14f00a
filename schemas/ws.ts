/**
 * JSON Schemas of WebSocket frames: each carries a `type`, requests a client `id` its answers
 * echo. The answers carry the same fields as the REST answers of the same operations.
 */
import { Type, type Static } from '@sinclair/typebox';
import { ClosedAnswer, ResetBody, ResetInfo, StepAnswer } from './api.js';
import { Action } from './tools.js';

const Id = Type.Union([Type.String({ maxLength: 128 }), Type.Integer()]);
const EpisodeId = Type.String({ minLength: 1, maxLength: 64 });

export const ClientFrame = Type.Union(
  [
    Type.Object({ type: Type.Literal('reset'), id: Id, ...ResetBody.properties }, { additionalProperties: false }),
    Type.Object({ type: Type.Literal('step'), id: Id, episode_id: EpisodeId, action: Action }, { additionalProperties: false }),
    Type.Object({ type: Type.Literal('close'), id: Id, episode_id: EpisodeId }, { additionalProperties: false }),
    Type.Object({ type: Type.Literal('ping'), id: Id }, { additionalProperties: false }),
  ],
  { $id: 'hgym.ws.client_frame' },
);
export type ClientFrame = Static<typeof ClientFrame>;

export const ServerFrame = Type.Union(
  [
    Type.Object({ type: Type.Literal('reset_result'), id: Id, episode_id: Type.String(), observation: Type.Object({ text: Type.String() }), info: ResetInfo }),
    Type.Object({ type: Type.Literal('output'), id: Id, episode_id: Type.String(), stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr')]), data: Type.String() }),
    Type.Object({ type: Type.Literal('step_result'), id: Id, episode_id: Type.String(), ...StepAnswer.properties }),
    Type.Object({ type: Type.Literal('closed'), id: Id, ...ClosedAnswer.properties }),
    // status_code: the status the same error has over REST.
    Type.Object({ type: Type.Literal('error'), id: Type.Union([Id, Type.Null()]), status_code: Type.Integer(), code: Type.String(), message: Type.String() }),
    Type.Object({ type: Type.Literal('pong'), id: Id }),
  ],
  { $id: 'hgym.ws.server_frame' },
);
export type ServerFrame = Static<typeof ServerFrame>;

/** Every schema of the WebSocket frames, by the name the OpenAPI document gives it. */
export const WS_SCHEMAS = { ClientFrame, ServerFrame } as const;
