/**
 * Ended episodes from the trajectory log: listed with filters, fetched by id after the server
 * has forgotten the episode, and exported as SFT JSONL (the lines `hgym export` writes). Every
 * answer streams the log (env/trajectory-query.ts), so a large log neither blocks the server
 * nor fills its memory.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type, type TObject } from '@sinclair/typebox';
import { hgymError, isHgymError } from '../../env/errors.js';
import type { DamagedLine } from '../../env/jsonl.js';
import type { Trajectory, TrajectoryFilter } from '../../env/trajectory.js';
import { findTrajectory, isLineStart, listTrajectories, readSftExport, type DamagedRecord } from '../../env/trajectory-query.js';
import { TrajectoryAnswer } from '../../schemas/api.js';
import { TrajectoryExportQuery, TrajectoryList, TrajectoryQuery } from '../../schemas/trajectories.js';
import type { EpisodeService } from '../episodes.js';
import { errors } from '../openapi.js';

export interface TrajectoryRoutesOptions {
  /** The log the episode service appends ended episodes to. */
  trajectoryFile: string;
  /** The episode service, when the server runs one: an episode that just ended is answered from it before its record is on disk. */
  episodes: EpisodeService | null;
}

const DEFAULT_LIMIT = 50;
const DECIMAL = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/;

/**
 * A querystring arrives as text, and the server's Ajv does not coerce (bodies are validated as
 * sent): the fields the schema declares numeric are read as numbers here, before validation,
 * so the schema judges their values and anything else stays text for it to refuse.
 */
function readNumbers(schema: TObject) {
  const numeric = Object.entries(schema.properties)
    .filter(([, property]) => property.type === 'number' || property.type === 'integer')
    .map(([key]) => key);
  return async (request: FastifyRequest): Promise<void> => {
    const query = request.query as Record<string, unknown>;
    for (const key of numeric) {
      const value = query[key];
      if (typeof value === 'string' && DECIMAL.test(value)) query[key] = Number(value);
    }
  };
}

/** The filter a query asks for; bounds that contradict each other are a bad request. */
function filterOf(query: TrajectoryExportQuery): TrajectoryFilter {
  const { task, min_reward: minReward, max_reward: maxReward } = query;
  if (minReward !== undefined && maxReward !== undefined && minReward > maxReward) {
    throw hgymError('HGYM_ERR_BAD_REQUEST', `min_reward ${minReward} is above max_reward ${maxReward}`);
  }
  const endedFrom = query.from === undefined ? undefined : new Date(query.from);
  const endedTo = query.to === undefined ? undefined : new Date(query.to);
  if (endedFrom && endedTo && endedFrom > endedTo) throw hgymError('HGYM_ERR_BAD_REQUEST', `from ${query.from} is after to ${query.to}`);
  return { task, minReward, maxReward, endedFrom, endedTo };
}

const ENDED = new Set(['terminated', 'truncated', 'closed', 'failed']);

export async function trajectoryRoutes(app: FastifyInstance, { trajectoryFile, episodes }: TrajectoryRoutesOptions): Promise<void> {
  const damagedIn = (request: FastifyRequest) => (damaged: DamagedLine | DamagedRecord) =>
    request.log.warn({ file: trajectoryFile, ...damaged }, 'skipped a damaged line of the trajectory log');

  /** An ended episode the service still holds; its record may not be on disk yet. */
  const remembered = (id: string): Trajectory | null => {
    if (!episodes) return null;
    try {
      const trajectory = episodes.trajectory(id);
      return ENDED.has(trajectory.status) ? trajectory : null;
    } catch (err) {
      if (isHgymError(err, 'HGYM_ERR_NOT_FOUND')) return null;
      throw err;
    }
  };

  app.get<{ Querystring: TrajectoryQuery }>(
    '/v1/trajectories',
    {
      preValidation: readNumbers(TrajectoryQuery),
      schema: {
        operationId: 'listTrajectories',
        summary: 'Ended episodes',
        description:
          'Ended episodes from the trajectory log, newest first: task, instance, status, reward, steps and duration. Filters: `task`, a reward range (`min_reward`, `max_reward`; an ungraded episode passes no reward bound) and the end time (`from`, `to`). Pages of `limit` rows; `next_cursor` asks for the next, older page.',
        tags: ['trajectories'],
        querystring: TrajectoryQuery,
        response: { 200: TrajectoryList, ...errors(400) },
      },
    },
    async (request) => {
      const filter = filterOf(request.query);
      const before = request.query.cursor === undefined ? undefined : Number(request.query.cursor);
      if (before !== undefined && !(await isLineStart(trajectoryFile, before))) {
        throw hgymError('HGYM_ERR_BAD_REQUEST', `cursor ${before} is not where a record of the trajectory log starts (pass a next_cursor as it was answered)`);
      }
      const page = await listTrajectories(trajectoryFile, filter, { limit: request.query.limit ?? DEFAULT_LIMIT, before }, damagedIn(request));
      return { trajectories: page.trajectories, next_cursor: page.next === null ? null : String(page.next), damaged: page.damaged };
    },
  );

  app.get<{ Querystring: TrajectoryExportQuery }>(
    '/v1/trajectories/export',
    {
      preValidation: readNumbers(TrajectoryExportQuery),
      schema: {
        operationId: 'exportTrajectories',
        summary: 'Ended episodes as SFT JSONL',
        description:
          'The graded episodes that pass the filters (the same as GET /v1/trajectories takes; `min_reward` defaults to 0), in the order they ended, as chat-format JSONL: the lines `hgym export` writes for the same records.',
        tags: ['trajectories'],
        querystring: TrajectoryExportQuery,
        produces: ['application/jsonl'],
        response: { 200: { description: 'One SFT record per line', type: 'string' }, ...errors(400) },
      },
    },
    async (request, reply) => {
      const filter = { ...filterOf(request.query), minReward: request.query.min_reward ?? 0 };
      return reply
        .type('application/jsonl; charset=utf-8')
        .header('content-disposition', 'attachment; filename="hgym-sft.jsonl"')
        .send(Readable.from(readSftExport(trajectoryFile, filter, damagedIn(request))));
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v1/trajectories/:id',
    {
      schema: {
        operationId: 'getEndedTrajectory',
        summary: "An ended episode's trajectory",
        description:
          "The record of an ended episode, as GET /v1/episodes/{id}/trajectory answered it when it ended, read from the trajectory log: it stays here after the server has forgotten the episode. A running episode's trajectory so far is at GET /v1/episodes/{id}/trajectory.",
        tags: ['trajectories'],
        params: Type.Object({ id: Type.String({ description: 'the episode_id reset answered with' }) }),
        response: { 200: TrajectoryAnswer, ...errors(404) },
      },
    },
    async (request) => {
      const { id } = request.params;
      const trajectory = remembered(id) ?? (await findTrajectory(trajectoryFile, id, damagedIn(request)));
      if (!trajectory) throw hgymError('HGYM_ERR_NOT_FOUND', `an ended episode ${id} in the trajectory log`);
      return trajectory;
    },
  );
}
