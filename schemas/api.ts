/** JSON Schemas of the HTTP API's bodies and answers. */
import { Type, type Static } from '@sinclair/typebox';
import { Action } from './tools.js';

export const ResetBody = Type.Object(
  {
    task: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    seed: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
    instance_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    options: Type.Optional(
      Type.Object(
        {
          max_steps: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
          command_timeout: Type.Optional(Type.Number({ exclusiveMinimum: 0, description: 'seconds; can only lower the server limit' })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { $id: 'hgym.api.reset', additionalProperties: false },
);
export type ResetBody = Static<typeof ResetBody>;

export const StepBody = Type.Object({ action: Action }, { $id: 'hgym.api.step', additionalProperties: false });
export type StepBody = Static<typeof StepBody>;

export const EpisodeRef = Type.Object({ episode_id: Type.String({ minLength: 1, maxLength: 64 }) }, { $id: 'hgym.api.episode_ref', additionalProperties: false });

export const GymStepBody = Type.Object(
  { episode_id: Type.String({ minLength: 1, maxLength: 64 }), action: Action },
  { $id: 'hgym.api.gym_step', additionalProperties: false },
);
export type GymStepBody = Static<typeof GymStepBody>;

export const Observation = Type.Object({ text: Type.String() }, { $id: 'hgym.api.observation' });

export const ResetAnswer = Type.Object(
  { episode_id: Type.String(), observation: Observation, info: Type.Record(Type.String(), Type.Unknown()) },
  { $id: 'hgym.api.reset_answer' },
);

export const StepAnswer = Type.Object(
  {
    observation: Observation,
    reward: Type.Number({ minimum: 0, maximum: 1 }),
    terminated: Type.Boolean(),
    truncated: Type.Boolean(),
    info: Type.Record(Type.String(), Type.Unknown()),
  },
  { $id: 'hgym.api.step_answer' },
);

export const ErrorAnswer = Type.Object(
  { statusCode: Type.Integer(), code: Type.String({ pattern: '^HGYM_ERR_' }), error: Type.String(), message: Type.String() },
  { $id: 'hgym.api.error' },
);

const Anything = Type.Record(Type.String(), Type.Unknown());

export const HealthAnswer = Type.Object({ status: Type.Literal('ok'), instance: Type.String() }, { $id: 'hgym.api.health' });

export const ReadyAnswer = Type.Object(
  { status: Type.String(), problems: Type.Optional(Type.Array(Type.String())), pool: Type.Optional(Anything) },
  { $id: 'hgym.api.ready' },
);

export const ToolsAnswer = Type.Object({ tools: Type.Array(Anything) }, { $id: 'hgym.api.tools' });

export const TasksAnswer = Type.Object(
  { corpus: Type.String(), instances: Type.Integer(), families: Type.Record(Type.String(), Type.Object({ instances: Type.Integer() })) },
  { $id: 'hgym.api.tasks' },
);

/** running → grading → terminated | truncated | failed; running → closed. */
export const EpisodeStatus = Type.Union([
  Type.Literal('running'),
  Type.Literal('grading'),
  Type.Literal('terminated'),
  Type.Literal('truncated'),
  Type.Literal('closed'),
  Type.Literal('failed'),
]);

/** Why grading failed, on an episode that ended as `failed`. */
const EpisodeError = Type.Object({ code: Type.String({ pattern: '^HGYM_ERR_' }), message: Type.String() });

export const EpisodeState = Type.Object(
  {
    episode_id: Type.String(),
    task: Type.String(),
    instance_id: Type.String(),
    status: EpisodeStatus,
    error: Type.Optional(EpisodeError),
    steps: Type.Integer(),
    max_steps: Type.Integer(),
    created_at: Type.String(),
    last_activity_at: Type.String(),
    reward: Type.Union([Type.Number(), Type.Null()]),
  },
  { $id: 'hgym.api.episode_state' },
);

export const TrajectoryAnswer = Type.Object(
  {
    episode_id: Type.String(),
    task: Type.String(),
    instance_id: Type.String(),
    instruction: Type.String(),
    status: EpisodeStatus,
    error: Type.Optional(EpisodeError),
    steps: Type.Array(
      Type.Object({ index: Type.Integer(), action: Type.Unknown(), observation: Type.String(), invalid: Type.Boolean(), startedAt: Type.String(), durationMs: Type.Number() }),
    ),
    reward: Type.Union([Type.Number(), Type.Null()]),
    grade: Type.Union([Anything, Type.Null()]),
    created_at: Type.String(),
    ended_at: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'hgym.api.trajectory' },
);

/** `status` is the episode's final one, as its trajectory records it (a close during grading waits for the grade). */
export const ClosedAnswer = Type.Object({ episode_id: Type.String(), closed: Type.Boolean(), status: Type.Optional(EpisodeStatus) }, { $id: 'hgym.api.closed' });

export const API_SCHEMAS = [
  ResetBody,
  StepBody,
  EpisodeRef,
  GymStepBody,
  Observation,
  ResetAnswer,
  StepAnswer,
  ErrorAnswer,
  HealthAnswer,
  ReadyAnswer,
  ToolsAnswer,
  TasksAnswer,
  EpisodeState,
  TrajectoryAnswer,
  ClosedAnswer,
] as const;
