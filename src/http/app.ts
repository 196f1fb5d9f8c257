/**
 * The Express application: parses, authenticates and writes; every route calls a domain
 * handler that returns `{ status, body }` and knows nothing of Express.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config';
import type { PolicyEngine } from '../engine';
import type { Store } from '../store';
import type { ArtifactRepository } from '../dtr/artifacts';
import type { FhirFetcherFactory } from '../fhir/fetcher';
import type { Logger } from '../logger';
import { TOKEN_PATH, type AuthenticatedClient } from '../auth/smart';
import { errorHandler, notFoundHandler } from './errors';
import { unsupportedMediaType } from '../fhir/outcomes';
import { bodyParsing, ipRateLimit, requestTracking, securityHeaders } from './operations';
import { assertJsonShape } from '../fhir/structure';
import type { StructureChecker } from '../fhir/structure-checker';
import type { WorkerThreads } from '../engine/threads';
import { serializeInSlices } from '../core/json-text';

export interface HandlerResult {
  status: number;
  body: unknown;
  /** Default `application/fhir+json`. */
  contentType?: string;
  headers?: Record<string, string>;
}

export interface HandlerInput {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  headers: Record<string, string | string[] | undefined>;
  requestId: string;
  /** The URL the client called (public base + path), for CDS Hooks `aud` checks. */
  url: string;
  /** The SMART client that called (src/auth/smart.ts); undefined in open mode. */
  client?: AuthenticatedClient;
  /** The JSON body's bytes as received (PAS and DTR operations), for a check on another thread. */
  rawBody?: Uint8Array;
}

export type Handler = (input: HandlerInput) => Promise<HandlerResult>;

/** What every route may use; built once at start and shared. */
export interface AppContext {
  config: Config;
  engine: PolicyEngine;
  /** The published DTR artifacts: Questionnaires, Libraries (CQL + ELM), ValueSets. */
  artifacts: ArtifactRepository;
  store: Store;
  logger: Logger;
  /** "Now", injectable so tests pin dates. */
  clock: () => Date;
  /** The R4 structure check, on worker threads (absent: in-process). */
  structure?: StructureChecker;
  /** The worker threads that evaluate and check (absent: both in-process); /health/ready waits until they have loaded. */
  threads?: WorkerThreads;
  /** How CRD and DTR read a client's FHIR server; default fhir-kit-client. */
  fhirFetcherFactory?: FhirFetcherFactory;
  /** Set by the server once SIGTERM/SIGINT came: readiness answers 503 while in-flight requests finish. */
  shuttingDown?: boolean;
}

export type RouteModule = (router: express.Router, ctx: AppContext) => void;

/** Adapts a domain handler to Express. */
export function route(handler: Handler, ctx: AppContext) {
  return (req: Request, res: Response, next: NextFunction) => {
    const requestId = String(res.locals.requestId);
    handler({
      params: req.params as Record<string, string>,
      query: req.query as Record<string, unknown>,
      body: req.body,
      headers: req.headers,
      requestId,
      url: `${ctx.config.publicBaseUrl}${req.originalUrl.split('?')[0] ?? ''}`,
      ...(res.locals.client ? { client: res.locals.client as AuthenticatedClient } : {}),
      ...(res.locals.rawBody instanceof Uint8Array ? { rawBody: res.locals.rawBody } : {}),
    })
      .then(async (result) => {
        // A large answer (a 1,000-item ClaimResponse read back or replayed) is written in slices.
        const { body } = result;
        const text = typeof body === 'string' || Buffer.isBuffer(body) || body === undefined ? body : await serializeInSlices(body, SEND_AS_BYTES_FROM);
        if (result.headers) res.set(result.headers);
        res.status(result.status).type(result.contentType ?? 'application/fhir+json');
        const version = req.method === 'GET' ? versionIdOf(body) : undefined;
        if (version) res.set('ETag', `W/"${version}"`);
        if (Buffer.isBuffer(text)) await sendInSlices(res, text);
        else res.send(text);
      })
      .catch(next);
  };
}

/** Answers of this many UTF-8 bytes or more are sent as bytes, a slice at a time. */
const SEND_AS_BYTES_FROM = 256 * 1024;
const SEND_SLICE_BYTES = 256 * 1024;

/**
 * A long answer is written as the socket drains: one write of a 6 MB answer held the event loop
 * 10–20 ms. A client that hangs up meanwhile is not an error: the answer was already stored.
 */
async function sendInSlices(res: Response, bytes: Buffer): Promise<void> {
  res.setHeader('Content-Length', bytes.length);
  function* slices() {
    for (let at = 0; at < bytes.length; at += SEND_SLICE_BYTES) yield bytes.subarray(at, at + SEND_SLICE_BYTES);
  }
  try {
    await pipeline(Readable.from(slices()), res);
  } catch (error) {
    if (!res.destroyed) throw error;
  }
}

/** A FHIR read's ETag is its weak version (FHIR R4 http.html#versioning), not a hash of the text. */
function versionIdOf(body: unknown): string | undefined {
  const version = (body as { meta?: { versionId?: unknown } } | null | undefined)?.meta?.versionId;
  return typeof body === 'object' && typeof version === 'string' ? version : undefined;
}

const JSON_TYPES = ['application/json', 'application/fhir+json', 'application/*+json'];

/** POST/PUT bodies must be JSON: anything else is a 415 OperationOutcome, not an empty body. */
function requireJson(req: Request, _res: Response, next: NextFunction): void {
  // OAuth token requests are form-encoded (RFC 6749 §4.4.2).
  if (req.path === TOKEN_PATH) {
    next();
    return;
  }
  if ((req.method === 'POST' || req.method === 'PUT') && req.headers['content-length'] !== '0' && !req.is(JSON_TYPES)) {
    next(unsupportedMediaType('Send the request body as application/fhir+json or application/json.'));
    return;
  }
  next();
}

export function createApp(ctx: AppContext, modules: RouteModule[]): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Express would hash every answer's text for an ETag; FHIR reads carry their version instead (route).
  app.disable('etag');
  app.set('trust proxy', ctx.config.ops.trustProxy);
  app.use(requestTracking(ctx));
  app.use(securityHeaders());
  // CDS Hooks clients call from browsers too (SMART apps, sandboxes).
  app.use((req, res, next) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.setHeader('Access-Control-Expose-Headers', 'X-Request-Id, Retry-After, RateLimit, RateLimit-Policy, WWW-Authenticate');
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  });
  const perIp = ipRateLimit(ctx.config, ctx.store, ctx.logger);
  if (perIp) app.use(perIp);
  app.use(requireJson);
  app.use(bodyParsing(ctx.config, JSON_TYPES));
  // Bounded nesting and array sizes before any handler walks the body. The R4 definitions load in
  // the worker threads, or in-process at start-up without them (src/fhir/structure-checker.ts).
  app.use((req, _res, next) => {
    assertJsonShape(req.body, ctx.config.limits);
    next();
  });

  const router = express.Router();
  for (const module of modules) module(router, ctx);
  app.use(router);
  app.use(notFoundHandler);
  app.use(errorHandler(ctx.logger));
  return app;
}
