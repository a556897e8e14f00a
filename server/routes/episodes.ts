/** reset, step, state and close over REST, under both the resource and Gymnasium's verbs. */
import type { FastifyInstance } from 'fastify';
import { EpisodeRef, GymStepBody, ResetAnswer, ResetBody, StepAnswer, StepBody, ErrorAnswer } from '../../schemas/api.js';
import type { EpisodeManager } from '../episodes.js';

const errors = { 400: ErrorAnswer, 404: ErrorAnswer, 409: ErrorAnswer, 502: ErrorAnswer, 503: ErrorAnswer };

export async function episodeRoutes(app: FastifyInstance, { episodes }: { episodes: EpisodeManager }): Promise<void> {
  const reset = async (body: ResetBody) => {
    const episode = await episodes.reset(body);
    return { episode_id: episode.id, observation: { text: episode.instance.instruction }, info: episode.resetInfo() };
  };
  const step = (id: string, action: unknown) => episodes.get(id).step(action);

  app.post<{ Body: ResetBody }>('/v1/episodes', { schema: { body: ResetBody, response: { 201: ResetAnswer, ...errors } } }, async (request, reply) =>
    reply.status(201).send(await reset(request.body ?? {})),
  );
  app.post<{ Params: { id: string }; Body: StepBody }>(
    '/v1/episodes/:id/step',
    { schema: { body: StepBody, response: { 200: StepAnswer, ...errors } } },
    async (request) => step(request.params.id, request.body.action),
  );
  app.get<{ Params: { id: string } }>('/v1/episodes/:id', async (request) => episodes.get(request.params.id).state());
  app.get<{ Params: { id: string } }>('/v1/episodes/:id/trajectory', async (request) => episodes.get(request.params.id).trajectory());
  app.delete<{ Params: { id: string } }>('/v1/episodes/:id', async (request) => episodes.close(request.params.id));

  app.post<{ Body: ResetBody }>('/v1/reset', { schema: { body: ResetBody, response: { 201: ResetAnswer, ...errors } } }, async (request, reply) =>
    reply.status(201).send(await reset(request.body ?? {})),
  );
  app.post<{ Body: GymStepBody }>('/v1/step', { schema: { body: GymStepBody, response: { 200: StepAnswer, ...errors } } }, async (request) =>
    step(request.body.episode_id, request.body.action),
  );
  app.post<{ Body: { episode_id: string } }>('/v1/close', { schema: { body: EpisodeRef } }, async (request) => episodes.close(request.body.episode_id));
}
