/**
 * JSON Schemas of the trajectory log's routes: ended episodes, listed, fetched and exported
 * after the server has forgotten them.
 */
import { Type, type Static } from '@sinclair/typebox';
import { EpisodeStatus } from './api.js';

/** The filters that choose ended episodes, shared by the listing and the export. */
const filters = {
  task: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'a task family' })),
  min_reward: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'lowest reward kept; an ungraded episode passes no reward bound' })),
  max_reward: Type.Optional(Type.Number({ minimum: 0, maximum: 1, description: 'highest reward kept' })),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'earliest end kept (ISO 8601 with a time zone), included' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'latest end kept (ISO 8601 with a time zone), included' })),
};

export const TrajectoryQuery = Type.Object(
  {
    ...filters,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, description: 'most rows answered (50)' })),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$', description: 'the `next_cursor` of the previous page' })),
  },
  { $id: 'hgym.api.trajectory_query', additionalProperties: false },
);
export type TrajectoryQuery = Static<typeof TrajectoryQuery>;

export const TrajectoryExportQuery = Type.Object(filters, { $id: 'hgym.api.trajectory_export_query', additionalProperties: false });
export type TrajectoryExportQuery = Static<typeof TrajectoryExportQuery>;

/** An ended episode's row: what it was, how it ended, and how long it ran. */
export const TrajectorySummary = Type.Object(
  {
    episode_id: Type.String(),
    task: Type.String(),
    instance_id: Type.String(),
    status: EpisodeStatus,
    /** Null when the episode was not graded (closed before its end, or failed). */
    reward: Type.Union([Type.Number(), Type.Null()]),
    steps: Type.Integer({ minimum: 0 }),
    /** From reset to end. */
    duration_ms: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
    created_at: Type.String(),
    ended_at: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'hgym.api.trajectory_summary', additionalProperties: false },
);
export type TrajectorySummary = Static<typeof TrajectorySummary>;

export const TrajectoryList = Type.Object(
  {
    trajectories: Type.Array(TrajectorySummary),
    /** Pass it as `cursor` for the next, older page; null once the log was read to its start. */
    next_cursor: Type.Union([Type.String(), Type.Null()]),
    /** Lines of the log read for this page that were not trajectories, skipped. */
    damaged: Type.Integer({ minimum: 0 }),
  },
  { $id: 'hgym.api.trajectory_list', description: 'Ended episodes that pass the filters, newest first, a page at a time.' },
);
export type TrajectoryList = Static<typeof TrajectoryList>;

export const TRAJECTORY_SCHEMAS = { TrajectoryQuery, TrajectoryExportQuery, TrajectorySummary, TrajectoryList } as const;
