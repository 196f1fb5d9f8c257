/**
 * The operational middleware around every route: request id, log line and latency metric per
 * request; security headers (helmet); body limits per route family; rate limits per IP and per
 * SMART client. Failures are OperationOutcomes thrown to the one error middleware (src/http/errors.ts).
 */
import crypto from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import { rateLimit, type IncrementResponse, type Store as RateLimitStore } from 'express-rate-limit';
import type { Config } from '../config';
import type { Store } from '../store';
import type { Logger } from '../logger';
import { observeRequest, UNROUTED } from '../ops/metrics';
import { throttled, tooLarge } from '../fhir/outcomes';
import { PAGE_STYLE_CSP_SOURCES, styleCspSource } from '../catalog/pages';
import { REPORT_STYLE } from '../review/report';
import { TOKEN_PATH } from '../auth/smart';

/** The route template that answered (`/fhir/Claim/:id`), for metrics and logs; never the raw path. */
export function operationOf(req: Request): string {
  const template = (req.route as { path?: unknown } | undefined)?.path;
  return typeof template === 'string' ? `${req.baseUrl}${template}`.replace(/\\/g, '') : UNROUTED;
}

/** Request id (X-Request-Id) for the answer, the log lines and the 500 text; one log line and one latency observation per request. */
export function requestTracking(ctx: { logger: Logger }): RequestHandler {
  return (req, res, next) => {
    const requestId = crypto.randomUUID();
    res.locals.requestId = requestId;
    res.setHeader('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const operation = operationOf(req);
      observeRequest(req.method, operation, res.statusCode, seconds);
      // Read at the end: tests (and operators) may swap the context's logger after start.
      ctx.logger.info('request', { requestId, method: req.method, operation, path: req.path, status: res.statusCode, ms: Math.round(seconds * 1e6) / 1e3 });
    });
    next();
  };
}

/**
 * helmet's headers. The answers are JSON for API clients plus a few server-rendered HTML pages
 * (/policies): scripts, styles and fetches only from this origin, the pages' inline style by its
 * hash, no framing. Resources may be read cross-origin: CDS Hooks and SMART apps call from browsers.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", ...PAGE_STYLE_CSP_SOURCES, styleCspSource(REPORT_STYLE)],
        imgSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    crossOriginResourcePolicy: { policy: 'cross-origin' },
    xFrameOptions: { action: 'deny' },
  });
}

interface BodyFamily {
  label: string;
  setting: string;
  limit: number;
  parser: RequestHandler;
}

/**
 * Body limits per route family: CDS Hooks calls, PAS `$submit`, the DTR operations, the token
 * endpoint's form, everything else. Each limit is capped by MAX_BODY_BYTES; a larger body is a 413
 * that names the limit and its setting, refused from Content-Length before it is read when it can be.
 */
export function bodyParsing(config: Pick<Config, 'maxBodyBytes' | 'ops'>, jsonTypes: string[]): RequestHandler {
  const family = (label: string, setting: string, bytes: number, form = false, keepRaw = false): BodyFamily => {
    const capped = bytes > config.maxBodyBytes;
    const limit = capped ? config.maxBodyBytes : bytes;
    // The raw UTF-8 bytes go to the structure worker, which parses them instead of a clone of the value.
    const verify = (_req: unknown, res: unknown, buf: Buffer, encoding: string) => {
      if (encoding === 'utf-8' || encoding === 'utf8') (res as Response).locals.rawBody = buf;
    };
    const parser = form ? express.urlencoded({ extended: false, limit }) : express.json({ type: jsonTypes, limit, strict: false, ...(keepRaw ? { verify } : {}) });
    return { label, setting: capped ? 'MAX_BODY_BYTES' : setting, limit, parser };
  };
  const b = config.ops.bodyLimits;
  const cdsHooks = family('CDS Hooks calls', 'BODY_LIMIT_CDS_HOOKS', b.cdsHooks);
  const submit = family('PAS $submit', 'BODY_LIMIT_SUBMIT', b.submit, false, true);
  const dtr = family('DTR operations', 'BODY_LIMIT_DTR', b.dtr, false, true);
  const token = family('the token endpoint', 'BODY_LIMIT_TOKEN', b.token, true);
  const other = family('this route', 'BODY_LIMIT_OTHER', b.other);
  const pick = (path: string): BodyFamily => {
    if (path.startsWith('/cds-services/')) return cdsHooks;
    if (path === '/fhir/Claim/$submit') return submit;
    if (/^\/fhir\/Questionnaire(\/[^/]+)?\/\$(questionnaire-package|populate|next-question)$/.test(path)) return dtr;
    if (path === TOKEN_PATH) return token;
    return other;
  };
  return (req: Request, res: Response, next: NextFunction) => {
    const chosen = pick(req.path);
    chosen.parser(req, res, (error?: unknown) => {
      if ((error as { type?: string } | undefined)?.type === 'entity.too.large') {
        next(tooLarge(`The request body is larger than ${chosen.limit} bytes, the limit for ${chosen.label} (${chosen.setting}).`));
        return;
      }
      next(error);
    });
  };
}

/** express-rate-limit counters in the store: every instance on the database shares them. */
export class StoreRateLimitCounter implements RateLimitStore {
  private windowMs = 60_000;
  readonly localKeys = false;

  constructor(
    private readonly store: Store,
    readonly prefix: string,
  ) {}

  init(options: { windowMs: number }): void {
    this.windowMs = options.windowMs;
  }

  async increment(key: string): Promise<IncrementResponse> {
    const { hits, resetAt } = await this.store.hitRateLimit(`${this.prefix}${key}`, this.windowMs, new Date());
    return { totalHits: hits, resetTime: resetAt };
  }

  async decrement(key: string): Promise<void> {
    await this.store.unhitRateLimit(`${this.prefix}${key}`);
  }

  async resetKey(key: string): Promise<void> {
    await this.store.resetRateLimit(`${this.prefix}${key}`);
  }
}

function limiter(config: Config, store: Store, logger: Logger, kind: 'ip' | 'client', limit: number, key?: (req: Request, res: Response) => string): RequestHandler {
  const { windowSeconds, store: where } = config.ops.rateLimit;
  const who = kind === 'ip' ? 'this IP address' : 'this client';
  return rateLimit({
    windowMs: windowSeconds * 1000,
    limit,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    // A database outage lets requests through (logged) rather than refusing every caller.
    passOnStoreError: true,
    logger: { error: (error, message) => logger.error(message ?? 'rate limiter', { error: String(error) }), warn: (error, message) => logger.warn(message ?? 'rate limiter', { error: String(error) }) },
    ...(where === 'database' ? { store: new StoreRateLimitCounter(store, `${kind}:`) } : {}),
    ...(key ? { keyGenerator: key, skip: (req: Request, res: Response) => key(req, res) === '' } : {}),
    handler: (_req, _res, next) => {
      next(throttled(`Too many requests from ${who}: at most ${limit} per ${windowSeconds} s. Retry after the time in Retry-After.`));
    },
  });
}

/** Per IP address, in front of every route (the address is the peer's unless TRUST_PROXY says otherwise). */
export function ipRateLimit(config: Config, store: Store, logger: Logger): RequestHandler | null {
  return config.ops.rateLimit.perIp > 0 ? limiter(config, store, logger, 'ip', config.ops.rateLimit.perIp) : null;
}

/** Per authenticated SMART client, after the bearer check on /fhir; requests without a client are not counted here. */
export function clientRateLimit(config: Config, store: Store, logger: Logger): RequestHandler | null {
  if (config.ops.rateLimit.perClient <= 0) return null;
  return limiter(config, store, logger, 'client', config.ops.rateLimit.perClient, (_req, res) => (res.locals.client as { clientId?: string } | undefined)?.clientId ?? '');
}
