/**
 * GET /v1/ws: episodes over one WebSocket. Several episodes may share a socket; a command's
 * output is streamed as `output` frames before its `step_result`. When a socket drops, the
 * episodes it started are closed after a grace period unless used meanwhile.
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { Ajv } from 'ajv';
import { HgymError, hgymError } from '../../env/errors.js';
import { ClientFrame } from '../../schemas/ws.js';
import type { EpisodeManager } from '../episodes.js';
import { toHgymError } from '../errors.js';

const ajv = new Ajv({ allErrors: false, strict: false });
const validate = ajv.compile<ClientFrame>(ClientFrame);

export interface WsOptions {
  episodes: EpisodeManager;
  /** How long a dropped socket's episodes wait for another client before they are closed. */
  graceMs: number;
  onError: (code: string) => void;
}

export async function wsRoutes(app: FastifyInstance, { episodes, graceMs, onError }: WsOptions): Promise<void> {
  app.get('/v1/ws', { websocket: true }, (socket: WebSocket) => {
    const started = new Set<string>();
    const send = (frame: object): void => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame));
    };
    const fail = (id: unknown, err: unknown): void => {
      const coded = err instanceof HgymError ? err : toHgymError(err as Error);
      onError(coded.code);
      send({ type: 'error', id: id ?? null, code: coded.code, message: coded.message });
    };

    const handle = async (raw: string): Promise<void> => {
      let frame: unknown;
      try {
        frame = JSON.parse(raw);
      } catch {
        return fail(null, hgymError('HGYM_ERR_BAD_REQUEST', 'the frame is not valid JSON'));
      }
      const id = (frame as { id?: unknown } | null)?.id ?? null;
      if (!validate(frame)) return fail(id, hgymError('HGYM_ERR_BAD_REQUEST', ajv.errorsText(validate.errors, { dataVar: 'frame' })));
      try {
        switch (frame.type) {
          case 'ping':
            return send({ type: 'pong', id: frame.id });
          case 'reset': {
            const { type: _type, id: _id, ...body } = frame;
            const episode = await episodes.reset(body);
            started.add(episode.id);
            return send({ type: 'reset_result', id: frame.id, episode_id: episode.id, observation: { text: episode.instance.instruction }, info: episode.resetInfo() });
          }
          case 'step': {
            const result = await episodes.get(frame.episode_id).step(frame.action, (chunk) =>
              send({ type: 'output', id: frame.id, episode_id: frame.episode_id, stream: chunk.stream, data: chunk.data }),
            );
            return send({ type: 'step_result', id: frame.id, episode_id: frame.episode_id, ...result });
          }
          case 'close':
            return send({ type: 'closed', id: frame.id, ...(await episodes.close(frame.episode_id)) });
        }
      } catch (err) {
        fail(id, err);
      }
    };

    // Attach the handlers before anything can await: frames arriving meanwhile would be lost.
    socket.on('message', (data, isBinary) => void handle(isBinary ? '' : String(data)));
    socket.on('close', () => {
      const droppedAt = Date.now();
      const timer = setTimeout(() => {
        for (const id of started) void episodes.closeIfIdleSince(id, droppedAt);
      }, graceMs);
      timer.unref();
    });
  });
}
