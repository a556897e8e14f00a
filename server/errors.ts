/**
 * Every error leaves the server as `{status_code, code, error, message}` with a code from the
 * one catalogue (schemas/errors.ts): route errors, unknown routes, schema mismatches, bodies that
 * do not parse, malformed URLs and HTTP, and requests that arrive while the server closes.
 * Fastify's own failures are translated to catalogue codes here.
 */
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HgymError, hgymError } from '../env/errors.js';
import type { ErrorAnswer } from '../schemas/api.js';

export function toHgymError(err: unknown): HgymError {
  if (err instanceof HgymError) return err;
  const e = err as FastifyError;
  if (e.validation) return hgymError('HGYM_ERR_BAD_REQUEST', e.message);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Body parsing and size limits (FST_ERR_CTP_*) and other client faults.
    return e.statusCode === 404 ? hgymError('HGYM_ERR_NOT_FOUND', e.message) : hgymError('HGYM_ERR_BAD_REQUEST', e.message);
  }
  return new HgymError('HGYM_ERR_INTERNAL', [e.message], { cause: err });
}

export function errorBody(err: HgymError): ErrorAnswer {
  return { status_code: err.statusCode, code: err.code, error: STATUS_CODES[err.statusCode] ?? 'Error', message: err.message };
}

/**
 * Turns any failure into a coded error, counts it by code and logs it when it is the server's
 * (5xx): the same for a REST answer and a WebSocket error frame.
 */
export type ErrorReporter = (err: unknown, log: FastifyBaseLogger) => HgymError;

export function errorReporter(count: (code: string) => void): ErrorReporter {
  return (err, log) => {
    const coded = toHgymError(err);
    count(coded.code);
    if (coded.statusCode >= 500) log.error({ err, code: coded.code }, 'request failed');
    return coded;
  };
}

function sendError(reply: FastifyReply, coded: HgymError): FastifyReply {
  if (coded.code === 'HGYM_ERR_CAPACITY' || coded.code === 'HGYM_ERR_SHUTTING_DOWN') reply.header('retry-after', '1');
  return reply.status(coded.statusCode).send(errorBody(coded));
}

/**
 * Errors of the HTTP layer below Fastify's routing (a request Node's parser refuses, a header
 * section too large, a request that took too long to arrive): answered in the same shape, on
 * the raw socket, which is then closed as Node would.
 */
function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const why =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? 'the request did not arrive in time'
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? 'the request headers are too large'
        : `the request is not valid HTTP (${err.code ?? err.message})`;
  const body = JSON.stringify(errorBody(hgymError('HGYM_ERR_BAD_REQUEST', why)));
  this.log.trace({ err }, 'client error');
  if (socket.writable) {
    socket.write(`HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/** The Fastify options that route the framework's own refusals through the same error shape. */
export function errorOptions(report: ErrorReporter) {
  return {
    // A malformed URL (`/%zz`), an over-long path parameter: coded like any other bad request.
    frameworkErrors: (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => sendError(reply, report(err, request.log)),
    clientErrorHandler,
    // Requests that arrive while the server closes are refused by installErrorHandling's
    // onRequest hook, in the error shape, instead of with Fastify's own 503 body.
    return503OnClosing: false,
  };
}

export function installErrorHandling(app: FastifyInstance, report: ErrorReporter): void {
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw hgymError('HGYM_ERR_SHUTTING_DOWN');
  });
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => sendError(reply, report(err, request.log)));
  app.setNotFoundHandler((request, reply) => sendError(reply, report(hgymError('HGYM_ERR_NOT_FOUND', `${request.method} ${request.url}`), request.log)));
}

/** Deepest nesting a JSON body may have; deeper bodies are refused before anything walks them. */
export const MAX_JSON_DEPTH = 64;

function depthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

/** JSON bodies: a parse failure or excessive nesting is a coded 400, never a 500. */
export function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (text.trim() === '') return done(null, undefined);
    if (depthExceeds(text, MAX_JSON_DEPTH)) return done(hgymError('HGYM_ERR_BAD_REQUEST', `the JSON body nests deeper than ${MAX_JSON_DEPTH} levels`), undefined);
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      done(hgymError('HGYM_ERR_BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`), undefined);
    }
  });
}
