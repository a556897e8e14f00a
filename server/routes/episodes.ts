/** reset, step, state and close over REST, under both the resource and Gymnasium's verbs. */
import type { FastifyInstance } from 'fastify';
import { ClosedAnswer, EpisodeRef, EpisodeState, ErrorAnswer, GymStepBody, ResetAnswer, ResetBody, StepAnswer, StepBody, TrajectoryAnswer } from '../../schemas/api.js';
import type { EpisodeManager } from '../episodes.js';
import type { Metrics } from '../metrics.js';

const errors = { 400: ErrorAnswer, 404: ErrorAnswer, 409: ErrorAnswer, 502: ErrorAnswer, 503: ErrorAnswer };

function toolOf(action: unknown): string {
  const tool = (action as { tool?: unknown } | null)?.tool;
  return typeof tool === 'string' && /^[a-z_]{1,32}$/.test(tool) ? tool : 'message';
}

export async function episodeRoutes(app: FastifyInstance, { episodes, metrics }: { episodes: EpisodeManager; metrics: Metrics }): Promise<void> {
  const reset = async (body: ResetBody) => {
    const started = performance.now();
    const episode = await episodes.reset(body);
    metrics.resetSeconds.observe({ task: episode.instance.task }, (performance.now() - started) / 1000);
    metrics.episodesTotal.inc({ task: episode.instance.task });
    return { episode_id: episode.id, observation: { text: episode.instance.instruction }, info: episode.resetInfo() };
  };
  const step = async (id: string, action: unknown) => {
    const episode = episodes.get(id);
    const started = performance.now();
    const result = await episode.step(action);
    metrics.stepSeconds.observe({ tool: toolOf(action) }, (performance.now() - started) / 1000);
    if (result.terminated || result.truncated) metrics.rewards.observe({ task: episode.instance.task }, result.reward);
    return result;
  };

  app.post<{ Body: ResetBody }>('/v1/episodes', { schema: { body: ResetBody, response: { 201: ResetAnswer, ...errors } } }, async (request, reply) =>
    reply.status(201).send(await reset(request.body ?? {})),
  );
  app.post<{ Params: { id: string }; Body: StepBody }>(
    '/v1/episodes/:id/step',
    { schema: { body: StepBody, response: { 200: StepAnswer, ...errors } } },
    async (request) => step(request.params.id, request.body.action),
  );
  app.get<{ Params: { id: string } }>('/v1/episodes/:id', { schema: { response: { 200: EpisodeState, ...errors } } }, async (request) =>
    episodes.get(request.params.id).state(),
  );
  app.get<{ Params: { id: string } }>('/v1/episodes/:id/trajectory', { schema: { response: { 200: TrajectoryAnswer, ...errors } } }, async (request) =>
    episodes.get(request.params.id).trajectory(),
  );
  app.delete<{ Params: { id: string } }>('/v1/episodes/:id', { schema: { response: { 200: ClosedAnswer, ...errors } } }, async (request) =>
    episodes.close(request.params.id),
  );

  app.post<{ Body: ResetBody }>('/v1/reset', { schema: { body: ResetBody, response: { 201: ResetAnswer, ...errors } } }, async (request, reply) =>
    reply.status(201).send(await reset(request.body ?? {})),
  );
  app.post<{ Body: GymStepBody }>('/v1/step', { schema: { body: GymStepBody, response: { 200: StepAnswer, ...errors } } }, async (request) =>
    step(request.body.episode_id, request.body.action),
  );
  app.post<{ Body: { episode_id: string } }>('/v1/close', { schema: { body: EpisodeRef, response: { 200: ClosedAnswer, ...errors } } }, async (request) =>
    episodes.close(request.body.episode_id),
  );
}
