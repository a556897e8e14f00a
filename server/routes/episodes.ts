/** reset, step, state and close over REST, under both the resource and Gymnasium's verbs: each a call to the episode service. */
import type { FastifyInstance } from 'fastify';
import { Type } from '@sinclair/typebox';
import { ClosedAnswer, EpisodeRef, EpisodeState, GymStepBody, ResetAnswer, ResetBody, StepAnswer, StepBody, TrajectoryAnswer } from '../../schemas/api.js';
import type { EpisodeService } from '../episodes.js';
import { errors } from '../openapi.js';

const EpisodeParams = Type.Object({ id: Type.String({ description: 'the episode_id reset answered with' }) });

export async function episodeRoutes(app: FastifyInstance, { episodes }: { episodes: EpisodeService }): Promise<void> {
  const resetSchema = { body: ResetBody, response: { 201: ResetAnswer, ...errors(400, 404, 502, 503) } };
  const stepResponse = { 200: StepAnswer, ...errors(400, 404, 409, 502, 503) };
  const closeResponse = { 200: ClosedAnswer, ...errors(502) };

  app.post<{ Body: ResetBody }>(
    '/v1/episodes',
    {
      schema: {
        operationId: 'resetEpisode',
        summary: 'Start an episode (reset)',
        description: 'Picks an instance (by `instance_id`, else by `seed` within `task`, else at random), leases a sandbox and answers with the instruction.',
        tags: ['episodes'],
        ...resetSchema,
      },
    },
    async (request, reply) => reply.status(201).send(await episodes.reset(request.body ?? {})),
  );
  app.post<{ Params: { id: string }; Body: StepBody }>(
    '/v1/episodes/:id/step',
    {
      schema: {
        operationId: 'stepEpisode',
        summary: 'Run one action (step)',
        description: 'The reward is 0 until the episode ends: a `finish` call grades it (`terminated`), reaching `max_steps` grades it as it stands (`truncated`).',
        tags: ['episodes'],
        params: EpisodeParams,
        body: StepBody,
        response: stepResponse,
      },
    },
    async (request) => episodes.step(request.params.id, request.body.action),
  );
  app.get<{ Params: { id: string } }>(
    '/v1/episodes/:id',
    { schema: { operationId: 'getEpisode', summary: "An episode's state", tags: ['episodes'], params: EpisodeParams, response: { 200: EpisodeState, ...errors(404) } } },
    async (request) => episodes.state(request.params.id),
  );
  app.get<{ Params: { id: string } }>(
    '/v1/episodes/:id/trajectory',
    {
      schema: {
        operationId: 'getTrajectory',
        summary: "An episode's trajectory",
        description: 'Every step so far: action, observation, timing; once ended, the reward and its breakdown.',
        tags: ['episodes'],
        params: EpisodeParams,
        response: { 200: TrajectoryAnswer, ...errors(404) },
      },
    },
    async (request) => episodes.trajectory(request.params.id),
  );
  app.delete<{ Params: { id: string } }>(
    '/v1/episodes/:id',
    {
      schema: {
        operationId: 'closeEpisode',
        summary: 'Close an episode',
        description: 'Releases its sandbox; idempotent (`closed` is false for an episode the server does not know). A close during grading waits for the grade.',
        tags: ['episodes'],
        params: EpisodeParams,
        response: closeResponse,
      },
    },
    async (request) => episodes.close(request.params.id),
  );

  app.post<{ Body: ResetBody }>(
    '/v1/reset',
    { schema: { operationId: 'gymReset', summary: 'Start an episode (Gymnasium verb)', description: 'The same as POST /v1/episodes.', tags: ['gym'], ...resetSchema } },
    async (request, reply) => reply.status(201).send(await episodes.reset(request.body ?? {})),
  );
  app.post<{ Body: GymStepBody }>(
    '/v1/step',
    {
      schema: { operationId: 'gymStep', summary: 'Run one action (Gymnasium verb)', description: 'The same as POST /v1/episodes/{id}/step, with `episode_id` in the body.', tags: ['gym'], body: GymStepBody, response: stepResponse },
    },
    async (request) => episodes.step(request.body.episode_id, request.body.action),
  );
  app.post<{ Body: { episode_id: string } }>(
    '/v1/close',
    {
      schema: {
        operationId: 'gymClose',
        summary: 'Close an episode (Gymnasium verb)',
        description: 'The same as DELETE /v1/episodes/{id}, with `episode_id` in the body.',
        tags: ['gym'],
        body: EpisodeRef,
        response: { ...closeResponse, ...errors(400) },
      },
    },
    async (request) => episodes.close(request.body.episode_id),
  );
}
