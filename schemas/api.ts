/** JSON Schemas of the HTTP API's bodies and answers. */
import { Type, type Static } from '@sinclair/typebox';
import { Action, ToolDefinition } from './tools.js';

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
  { $id: 'hgym.api.reset', additionalProperties: false, examples: [{ task: 'func_localize', seed: 7, options: { max_steps: 30, command_timeout: 60 } }] },
);
export type ResetBody = Static<typeof ResetBody>;

const EXAMPLE_ACTION = { tool: 'execute_bash', arguments: { command: 'ls' } };
const EXAMPLE_EPISODE = '3f0c2a8e-5b1d-4c7a-9e2f-6d8b1a4c0e57';

export const StepBody = Type.Object({ action: Action }, { $id: 'hgym.api.step', additionalProperties: false, examples: [{ action: EXAMPLE_ACTION }] });
export type StepBody = Static<typeof StepBody>;

export const EpisodeRef = Type.Object(
  { episode_id: Type.String({ minLength: 1, maxLength: 64 }) },
  { $id: 'hgym.api.episode_ref', additionalProperties: false, examples: [{ episode_id: EXAMPLE_EPISODE }] },
);

export const GymStepBody = Type.Object(
  { episode_id: Type.String({ minLength: 1, maxLength: 64 }), action: Action },
  { $id: 'hgym.api.gym_step', additionalProperties: false, examples: [{ episode_id: EXAMPLE_EPISODE, action: EXAMPLE_ACTION }] },
);
export type GymStepBody = Static<typeof GymStepBody>;

export const Observation = Type.Object({ text: Type.String() }, { $id: 'hgym.api.observation' });

/** What reset tells a trainer besides the instruction. */
export const ResetInfo = Type.Object(
  {
    task: Type.String(),
    instance_id: Type.String(),
    max_steps: Type.Integer({ minimum: 1 }),
    /** The action space, as GET /v1/tools answers it. */
    tools: Type.Array(ToolDefinition),
    /** The repository's absolute path in the sandbox. */
    workspace: Type.String(),
  },
  { $id: 'hgym.api.reset_info' },
);
export type ResetInfo = Static<typeof ResetInfo>;

export const ResetAnswer = Type.Object({ episode_id: Type.String(), observation: Observation, info: ResetInfo }, { $id: 'hgym.api.reset_answer', description: 'The episode started: its id, the instruction as the first observation, and what a trainer needs to drive it.' });
export type ResetAnswer = Static<typeof ResetAnswer>;

/** What the sandbox reported about an execute_bash command. */
export const ExecInfo = Type.Object(
  {
    /** 128+N when killed by signal N; null when it timed out or the sandbox killed it. */
    exit_code: Type.Union([Type.Integer(), Type.Null()]),
    timed_out: Type.Boolean(),
    /** Characters of output cut from the middle (the head and tail are kept). */
    cut_chars: Type.Integer({ minimum: 0 }),
    duration_ms: Type.Number({ minimum: 0 }),
  },
  { $id: 'hgym.api.exec_info', additionalProperties: false },
);
export type ExecInfo = Static<typeof ExecInfo>;

const Anything = Type.Record(Type.String(), Type.Unknown());

/** A place a grade points at: a file, and where known a line (or a range to `end_line`) and a definition. */
export const GradeLocation = Type.Object(
  {
    file: Type.String(),
    line: Type.Optional(Type.Integer({ minimum: 1 })),
    end_line: Type.Optional(Type.Integer({ minimum: 1 })),
    qualname: Type.Optional(Type.String()),
    /** Why it counts as it does (`duplicate`, `above no definition`, ...). */
    note: Type.Optional(Type.String()),
  },
  // No $id: it appears three times in GradeLevel, and an $id may appear once in a schema.
  { additionalProperties: false },
);
export type GradeLocation = Static<typeof GradeLocation>;

/**
 * One level of a localization family's grade (`levels` in the grade): its precision, recall
 * and F1, and the places behind them. Levels: `definition` (func_localize, dep_search);
 * `file`, `function` (when the gold names functions) and `line` (issue_localize).
 */
export const GradeLevel = Type.Object(
  {
    level: Type.String(),
    precision: Type.Number({ minimum: 0, maximum: 1 }),
    recall: Type.Number({ minimum: 0, maximum: 1 }),
    f1: Type.Number({ minimum: 0, maximum: 1 }),
    hits: Type.Array(GradeLocation),
    misses: Type.Array(GradeLocation),
    false_positives: Type.Array(GradeLocation),
  },
  { $id: 'hgym.api.grade_level', additionalProperties: false },
);
export type GradeLevel = Static<typeof GradeLevel>;

export const StepInfo = Type.Object(
  {
    /** Steps taken so far, this one included. */
    step: Type.Integer({ minimum: 1 }),
    /** execute_bash only. */
    exec: Type.Optional(ExecInfo),
    /**
     * Once the episode ended: the grader's breakdown of the reward: `rule` (which rule decided),
     * for the localization families `levels` (GradeLevel), for func_gen the tests (`test_ids`)
     * and the first failures (`failing`); docs/tasks.md lists every field.
     */
    grade: Type.Optional(Anything),
  },
  { $id: 'hgym.api.step_info' },
);
export type StepInfo = Static<typeof StepInfo>;

export const StepAnswer = Type.Object(
  {
    observation: Observation,
    reward: Type.Number({ minimum: 0, maximum: 1 }),
    terminated: Type.Boolean(),
    truncated: Type.Boolean(),
    info: StepInfo,
  },
  { $id: 'hgym.api.step_answer', description: "The action's observation; the reward once the episode ended (terminated by finish, truncated at max_steps), else 0." },
);
export type StepAnswer = Static<typeof StepAnswer>;

/** Every error answer: a stable code from docs/errors.md, the HTTP status and its reason phrase, and a message. */
export const ErrorAnswer = Type.Object(
  { status_code: Type.Integer(), code: Type.String({ pattern: '^HGYM_ERR_' }), error: Type.String(), message: Type.String() },
  { $id: 'hgym.api.error', additionalProperties: false },
);
export type ErrorAnswer = Static<typeof ErrorAnswer>;

export const HealthAnswer = Type.Object({ status: Type.Literal('ok'), instance: Type.String() }, { $id: 'hgym.api.health', description: "Alive; `instance` is this server's id." });

const imagePoolStats = {
  /** How many warm sandboxes the pool keeps ready (for an environment: by its recent demand). */
  target: Type.Integer({ minimum: 0 }),
  warm: Type.Integer({ minimum: 0 }),
  starting: Type.Integer({ minimum: 0 }),
  leased: Type.Integer({ minimum: 0 }),
};
/** Sandboxes created, lost and failed to start since the pool started. */
const poolCounters = {
  created: Type.Integer({ minimum: 0 }),
  lost: Type.Integer({ minimum: 0 }),
  failed: Type.Integer({ minimum: 0 }),
};

/** The containers of one image in a pool. */
export const ImagePoolStats = Type.Object(imagePoolStats, { $id: 'hgym.api.image_pool_stats' });
export type ImagePoolStats = Static<typeof ImagePoolStats>;

/** One container engine's share of a pool. */
export const EngineStats = Type.Object(
  {
    ...imagePoolStats,
    ...poolCounters,
    /** Whether the engine answers; a down engine holds no usable sandbox and gets no acquire. */
    up: Type.Boolean(),
    /** Why it is down, while it is. */
    down_reason: Type.Optional(Type.String()),
    /** Most sandboxes at once on this engine. */
    max: Type.Integer({ minimum: 0 }),
    /** Released containers not yet removed: being removed, or halted and waiting their turn. */
    removing: Type.Optional(Type.Integer({ minimum: 0 })),
  },
  { $id: 'hgym.api.engine_stats' },
);
export type EngineStats = Static<typeof EngineStats>;

/**
 * `target` is the base image's warm target summed over the engines that answer; `warm`,
 * `starting` and `leased` count every image's sandboxes on every engine. `environments` holds the
 * images other than the base one that have sandboxes or recent demand (by image name), and
 * `engines` each engine's share (by engine name); both may be left out by a pool of one image on
 * one engine.
 */
export const PoolStats = Type.Object(
  {
    ...imagePoolStats,
    ...poolCounters,
    environments: Type.Optional(Type.Record(Type.String(), ImagePoolStats)),
    engines: Type.Optional(Type.Record(Type.String(), EngineStats)),
  },
  { $id: 'hgym.api.pool_stats' },
);
export type PoolStats = Static<typeof PoolStats>;

/** 200 `ready` with the pool's stats, or 503 `not ready` with the problems. */
export const ReadyAnswer = Type.Object(
  { status: Type.Union([Type.Literal('ready'), Type.Literal('not ready')]), problems: Type.Optional(Type.Array(Type.String())), pool: Type.Optional(PoolStats) },
  { $id: 'hgym.api.ready', description: 'Ready with the pool\'s stats, or not ready with the problems.' },
);
export type ReadyAnswer = Static<typeof ReadyAnswer>;

export const ToolsAnswer = Type.Object({ tools: Type.Array(ToolDefinition) }, { $id: 'hgym.api.tools', description: 'The action space.' });

export const SchemasAnswer = Type.Object({ schemas: Type.Array(Type.String(), { description: 'the `$id` of every schema, each served at /v1/schemas/{id}' }) }, { $id: 'hgym.api.schemas', description: 'The JSON Schemas served.' });

export const TasksAnswer = Type.Object(
  { corpus: Type.String(), instances: Type.Integer(), families: Type.Record(Type.String(), Type.Object({ instances: Type.Integer() })) },
  { $id: 'hgym.api.tasks', description: 'The task families loaded and their instance counts.' },
);

/** running → grading → terminated | truncated | failed; running → closed. */
export const EpisodeStatus = Type.Union(
  [Type.Literal('running'), Type.Literal('grading'), Type.Literal('terminated'), Type.Literal('truncated'), Type.Literal('closed'), Type.Literal('failed')],
  { $id: 'hgym.api.episode_status' },
);
export type EpisodeStatus = Static<typeof EpisodeStatus>;

/** Why grading failed, on an episode that ended as `failed`. */
export const EpisodeError = Type.Object({ code: Type.String({ pattern: '^HGYM_ERR_' }), message: Type.String() });

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
  { $id: 'hgym.api.episode_state', description: "The episode's state." },
);
export type EpisodeState = Static<typeof EpisodeState>;

/** One step of a trajectory: the action as sent, the observation's text, and when and how long it ran. */
export const TrajectoryStep = Type.Object(
  {
    index: Type.Integer({ minimum: 0 }),
    action: Type.Unknown(),
    observation: Type.String(),
    /** The action was malformed or refused (it still cost a step). */
    invalid: Type.Boolean(),
    /** ISO 8601. */
    started_at: Type.String(),
    duration_ms: Type.Number({ minimum: 0 }),
  },
  { $id: 'hgym.api.trajectory_step' },
);
export type TrajectoryStep = Static<typeof TrajectoryStep>;

export const TrajectoryAnswer = Type.Object(
  {
    episode_id: Type.String(),
    task: Type.String(),
    instance_id: Type.String(),
    instruction: Type.String(),
    status: EpisodeStatus,
    error: Type.Optional(EpisodeError),
    steps: Type.Array(TrajectoryStep),
    reward: Type.Union([Type.Number(), Type.Null()]),
    grade: Type.Union([Anything, Type.Null()]),
    created_at: Type.String(),
    ended_at: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'hgym.api.trajectory', description: 'Every step so far and, once ended, the reward and its breakdown.' },
);
export type TrajectoryAnswer = Static<typeof TrajectoryAnswer>;

/** `status` is the episode's final one, as its trajectory records it (a close during grading waits for the grade). */
export const ClosedAnswer = Type.Object({ episode_id: Type.String(), closed: Type.Boolean(), status: Type.Optional(EpisodeStatus) }, { $id: 'hgym.api.closed', description: 'Closed (idempotent): `closed` is false for an episode the server does not know.' });
export type ClosedAnswer = Static<typeof ClosedAnswer>;

/** Every schema of the HTTP API, by the name the OpenAPI document gives it. */
export const API_SCHEMAS = {
  ResetBody,
  StepBody,
  EpisodeRef,
  GymStepBody,
  Observation,
  ResetInfo,
  ResetAnswer,
  ExecInfo,
  GradeLevel,
  StepInfo,
  StepAnswer,
  ErrorAnswer,
  HealthAnswer,
  ImagePoolStats,
  EngineStats,
  PoolStats,
  ReadyAnswer,
  ToolsAnswer,
  SchemasAnswer,
  TasksAnswer,
  EpisodeStatus,
  EpisodeState,
  TrajectoryStep,
  TrajectoryAnswer,
  ClosedAnswer,
} as const;
