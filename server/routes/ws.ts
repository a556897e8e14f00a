/**
 * GET /v1/ws: episodes over one WebSocket. Several episodes may share a socket; a command's
 * output is streamed as `output` frames before its `step_result`. When a socket drops, the
 * episodes it started are closed after a grace period unless used meanwhile. Every operation is
 * the episode service's, as over REST: the answers are its answers in a frame.
 */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import { Ajv } from 'ajv';
import { hgymError } from '../../env/errors.js';
import { ClientFrame } from '../../schemas/ws.js';
import type { EpisodeService } from '../episodes.js';
import { errors } from '../openapi.js';
import type { ErrorReporter } from '../errors.js';

/**
 * Browsers cannot set headers on a WebSocket, so the console sends the API key as a second
 * subprotocol, `hgym.key.<the key in base64url>`, after `hgym.v1`. The server selects `hgym.v1`
 * (a browser drops a socket whose offered protocols got no answer) and never echoes the key.
 * Subprotocols are not part of any URL, so the key lands in no access log.
 */
export const WS_PROTOCOL = 'hgym.v1';
const KEY_PROTOCOL_PREFIX = 'hgym.key.';

/** The API key carried by a `Sec-WebSocket-Protocol` header, if any. */
export function keyFromProtocols(header: string | undefined): string | undefined {
  const offered = (header ?? '').split(',').map((p) => p.trim());
  const encoded = offered.find((p) => p.startsWith(KEY_PROTOCOL_PREFIX))?.slice(KEY_PROTOCOL_PREFIX.length);
  return encoded === undefined ? undefined : Buffer.from(encoded, 'base64url').toString('utf8');
}

/** The subprotocol the server answers with: `hgym.v1` when offered, else none of the offered ones that carries a key. */
export function chooseProtocol(offered: Set<string>): string | false {
  if (offered.has(WS_PROTOCOL)) return WS_PROTOCOL;
  return [...offered].find((p) => !p.startsWith(KEY_PROTOCOL_PREFIX)) ?? false;
}

const ajv = new Ajv({ allErrors: false, strict: false });
const validate = ajv.compile<ClientFrame>(ClientFrame);

export interface WsOptions {
  episodes: EpisodeService;
  /** How long a dropped socket's episodes wait for another client before they are closed. */
  graceMs: number;
  report: ErrorReporter;
}

const DESCRIPTION = [
  'Upgrades to a WebSocket carrying any number of episodes. Frames are JSON objects tagged by `type`; each request carries a client `id` that its answers echo.',
  'Client frames (component ClientFrame): `reset` (the reset body\'s fields), `step` (`episode_id`, `action`), `close` (`episode_id`), `ping`.',
  'Server frames (component ServerFrame): `reset_result`, `output` (a chunk of a running command\'s stdout or stderr, as it is produced), `step_result` (the REST step answer\'s fields), `closed`, `error` (`status_code`, `code`, `message`), `pong`.',
  'With an API key, the upgrade carries it in the Authorization header, or (for browsers, which cannot set one) as the subprotocol `hgym.key.<the key in base64url>` offered after `hgym.v1`, which the server selects.',
  'A refused upgrade (a wrong API key) is answered over HTTP with the error shape.',
].join('\n\n');

export async function wsRoutes(app: FastifyInstance, { episodes, graceMs, report }: WsOptions): Promise<void> {
  app.route({
    method: 'GET',
    url: '/v1/ws',
    schema: {
      operationId: 'openEpisodeSocket',
      summary: 'Episodes over one WebSocket',
      description: DESCRIPTION,
      tags: ['episodes'],
      response: { 101: { description: 'Switching Protocols: the socket is open; frames follow.', type: 'null' }, ...errors(400) },
    },
    // A plain GET (no upgrade) gets a coded answer, not an empty 404.
    handler: async () => {
      throw hgymError('HGYM_ERR_BAD_REQUEST', 'GET /v1/ws opens a WebSocket: send it as an upgrade request');
    },
    wsHandler: (socket: WebSocket, request) => {
      const started = new Set<string>();
      const send = (frame: object): void => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(frame));
      };
      const fail = (id: unknown, err: unknown): void => {
        const coded = report(err, request.log);
        send({ type: 'error', id: id ?? null, status_code: coded.statusCode, code: coded.code, message: coded.message });
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
              const answer = await episodes.reset(body);
              started.add(answer.episode_id);
              return send({ type: 'reset_result', id: frame.id, ...answer });
            }
            case 'step': {
              const answer = await episodes.step(frame.episode_id, frame.action, (chunk) =>
                send({ type: 'output', id: frame.id, episode_id: frame.episode_id, stream: chunk.stream, data: chunk.data }),
              );
              return send({ type: 'step_result', id: frame.id, episode_id: frame.episode_id, ...answer });
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
    },
  });
}
