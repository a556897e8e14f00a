/**
 * Every error leaves the server as `{statusCode, code, error, message}` with a code from the
 * one registry (env/errors.ts). Fastify's own failures (bad JSON, schema mismatch, unknown
 * route) are translated to registry codes here.
 */
import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HgymError, hgymError } from '../env/errors.js';

export interface ErrorBody {
  statusCode: number;
  code: string;
  error: string;
  message: string;
}

export function toHgymError(err: FastifyError | Error): HgymError {
  if (err instanceof HgymError) return err;
  const e = err as FastifyError;
  if (e.validation) return hgymError('HGYM_ERR_BAD_REQUEST', e.message);
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    // Body parsing and size limits (FST_ERR_CTP_*) and other client faults.
    return e.statusCode === 404 ? hgymError('HGYM_ERR_NOT_FOUND', e.message) : hgymError('HGYM_ERR_BAD_REQUEST', e.message);
  }
  return new HgymError('HGYM_ERR_INTERNAL', [e.message], { cause: err });
}

export function errorBody(err: HgymError): ErrorBody {
  return { statusCode: err.statusCode, code: err.code, error: STATUS_CODES[err.statusCode] ?? 'Error', message: err.message };
}

export function installErrorHandling(app: FastifyInstance, onError: (code: string) => void = () => {}): void {
  app.setErrorHandler((err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const coded = toHgymError(err);
    onError(coded.code);
    if (coded.statusCode >= 500) request.log.error({ err }, 'request failed');
    if (coded.code === 'HGYM_ERR_CAPACITY') reply.header('retry-after', '1');
    return reply.status(coded.statusCode).send(errorBody(coded));
  });
  app.setNotFoundHandler((request, reply) => {
    const err = hgymError('HGYM_ERR_NOT_FOUND', `${request.method} ${request.url}`);
    onError(err.code);
    return reply.status(404).send(errorBody(err));
  });
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
