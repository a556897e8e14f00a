/** A WebSocket test client over app.injectWS: it collects every frame and waits (bounded) for the one a test needs. */
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';

export type Frame = Record<string, unknown> & { type: string };

export interface FrameClient {
  ws: WebSocket;
  frames: Frame[];
  until(match: (f: Frame) => boolean, ms?: number): Promise<Frame>;
  send(frame: object | string): void;
}

export async function frameClient(app: FastifyInstance): Promise<FrameClient> {
  const frames: Frame[] = [];
  const waiters: (() => void)[] = [];
  const ws: WebSocket = await app.injectWS('/v1/ws', {}, {
    onInit: (socket) =>
      socket.on('message', (data) => {
        frames.push(JSON.parse(String(data)) as Frame);
        for (const w of waiters.splice(0)) w();
      }),
  });
  const until = async (match: (f: Frame) => boolean, ms = 20_000): Promise<Frame> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = frames.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching frame in ${ms} ms; got ${JSON.stringify(frames).slice(0, 500)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  const send = (frame: object | string) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  return { ws, frames, until, send };
}
