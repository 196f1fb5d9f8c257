/**
 * Clinical review: the workbench page (`GET /review`), its JSON API under `/review/api`, reviewer
 * sign-in (`/review/login`, `/review/callback`, `/review/logout`), and the CMS-0057-F figures
 * (`GET /reports/prior-authorization`, JSON or an HTML page by Accept).
 *
 * Access (src/review/auth): with REVIEW_OIDC_ISSUER set, reviewers sign in at the payer's OpenID
 * provider and act through a session cookie (plus the CSRF header on every action); with
 * REVIEW_API_TOKENS set, automation sends a bearer token. The acting reviewer and role come from
 * the session or token only; a `reviewer` in the body is ignored then. In open (development) mode,
 * nothing configured anywhere, the body names the reviewer as before. With /fhir or CDS Hooks
 * authenticated but no reviewer sign-in, the workbench stays closed (401). Every review read and
 * action is audited (who, `Claim/id`, status; never content).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import { REPO_ROOT } from '../../config';
import { auditRead } from '../../auth/audit';
import { notFound } from '../../fhir/outcomes';
import { ReviewerAuth, type ReviewerIdentity } from '../../review/auth';
import { parseAssignInput, parseDecisionInput } from '../../review/input';
import { parseReportBound, priorAuthorizationReport, renderReportHtml } from '../../review/report';
import { ReviewService, type Reviewer } from '../../review/service';
import { route, type HandlerInput, type RouteModule } from '../app';

const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
const WORKBENCH_DIR = path.join(REPO_ROOT, 'src', 'review', 'workbench');
const ASSETS: Record<string, string> = {
  'workbench.js': 'text/javascript; charset=utf-8',
  'workbench.css': 'text/css; charset=utf-8',
};
/** Answers about a person's session are never cached by a browser or proxy. */
const NO_STORE = { 'Cache-Control': 'no-store' };

function wantsHtml(input: HandlerInput): boolean {
  const format = input.query.format;
  if (format === 'json') return false;
  if (format === 'html') return true;
  const accept = String(input.headers.accept ?? '');
  return accept.includes('text/html') && !accept.startsWith('application/json');
}

/** The query as received, for the OpenID callback (its values are strings; anything else is dropped). */
function searchParams(query: Record<string, unknown>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (typeof value === 'string') params.append(key, value);
  return params;
}

export const reviewRoutes: RouteModule = (router, ctx) => {
  const service = new ReviewService({
    store: ctx.store,
    catalog: ctx.engine.catalog,
    clock: ctx.clock,
    timeZone: ctx.engine.timeZone,
    baseUrl: `${ctx.config.publicBaseUrl}/fhir`,
  });
  const auth = new ReviewerAuth(ctx.config, ctx.store, ctx.clock);
  const reviewerOf = (who: ReviewerIdentity | null, body: unknown): Reviewer | undefined => who?.reviewer ?? (body as { reviewer?: Reviewer } | null)?.reviewer;
  const actorOf = (who: ReviewerIdentity | null, reviewer?: Reviewer) => who?.actor ?? (reviewer ? `${reviewer.role}:${reviewer.name}` : 'anonymous');
  const log = (message: string, fields: Record<string, unknown>) => ctx.logger.warn(message, fields);

  router.get(
    '/review',
    route(async ({ headers }) => {
      if (auth.mode !== 'open' && !(await auth.session(headers))) {
        if (auth.signIn) return { status: 303, headers: { Location: '/review/login', ...NO_STORE }, contentType: 'text/plain; charset=utf-8', body: 'Sign in at /review/login' };
        // Closed, or API tokens only: 401 saying why (a token caller gets the page).
        await auth.authenticate(headers, false);
      }
      return { status: 200, contentType: HTML_TYPE, headers: NO_STORE, body: fs.readFileSync(path.join(WORKBENCH_DIR, 'index.html'), 'utf8') };
    }, ctx),
  );
  // The page's script and style hold no patient data: served whenever the workbench is reachable.
  router.get(
    '/review/assets/:file',
    route(async ({ params }) => {
      const type = ASSETS[params.file ?? ''];
      if (!type) throw notFound(`No workbench asset ${params.file}.`);
      return { status: 200, contentType: type, body: fs.readFileSync(path.join(WORKBENCH_DIR, params.file ?? ''), 'utf8') };
    }, ctx),
  );

  router.get(
    '/review/login',
    route(async ({ query }) => {
      if (!auth.signIn) throw notFound('Reviewer sign-in is not configured on this server (REVIEW_OIDC_ISSUER).');
      const { location, setCookie } = await auth.startSignIn(query.returnTo);
      return { status: 303, headers: { Location: location, 'Set-Cookie': setCookie, ...NO_STORE }, contentType: 'text/plain; charset=utf-8', body: 'Signing in at the provider' };
    }, ctx),
  );
  router.get(
    '/review/callback',
    route(async ({ headers, query, requestId }) => {
      if (!auth.signIn) throw notFound('Reviewer sign-in is not configured on this server (REVIEW_OIDC_ISSUER).');
      try {
        const { location, setCookie, identity } = await auth.finishSignIn(headers, searchParams(query), log);
        await ctx.store.audit({ requestId, action: 'review.sign-in', actor: identity.actor, status: 303 });
        return { status: 303, headers: { Location: location, 'Set-Cookie': setCookie, ...NO_STORE }, contentType: 'text/plain; charset=utf-8', body: 'Signed in' };
      } catch (error) {
        await ctx.store.audit({ requestId, action: 'review.sign-in', actor: 'anonymous', status: (error as { status?: number }).status ?? 500 });
        throw error;
      }
    }, ctx),
  );
  router.post(
    '/review/logout',
    route(async ({ headers, requestId }) => {
      const { identity, setCookie, location } = await auth.signOut(headers);
      await ctx.store.audit({ requestId, action: 'review.sign-out', actor: actorOf(identity), status: 200 });
      return { status: 200, contentType: JSON_TYPE, headers: { 'Set-Cookie': setCookie, ...NO_STORE }, body: { location } };
    }, ctx),
  );
  router.get(
    '/review/api/session',
    route(async ({ headers }) => {
      if (auth.mode === 'open') return { status: 200, contentType: JSON_TYPE, headers: NO_STORE, body: { mode: 'open' } };
      const view = await auth.session(headers);
      if (!view) await auth.authenticate(headers, false);
      return {
        status: 200,
        contentType: JSON_TYPE,
        headers: NO_STORE,
        body: view ? { mode: 'session', reviewer: view.identity.reviewer, csrfToken: view.csrfToken } : { mode: 'token' },
      };
    }, ctx),
  );

  router.get(
    '/review/api/queue',
    route(async ({ headers, requestId }) => {
      const who = await auth.authenticate(headers, false);
      const items = await service.queue();
      await auditRead(ctx.store, { requestId, actor: actorOf(who), action: 'review.queue', target: `queue:${items.length}`, status: 200 });
      return { status: 200, contentType: JSON_TYPE, headers: NO_STORE, body: { items, generatedAt: ctx.clock().toISOString() } };
    }, ctx),
  );
  router.get(
    '/review/api/claims/:claimId',
    route(async ({ headers, params, requestId }) => {
      const who = await auth.authenticate(headers, false);
      const detail = await service.detail(params.claimId ?? '');
      await auditRead(ctx.store, { requestId, actor: actorOf(who), action: 'review.read', target: `Claim/${params.claimId}`, status: detail ? 200 : 404 });
      if (!detail) throw notFound(`No prior authorization request Claim/${params.claimId} is on file.`);
      return { status: 200, contentType: JSON_TYPE, headers: NO_STORE, body: detail };
    }, ctx),
  );
  router.post(
    '/review/api/claims/:claimId/decision',
    route(async ({ headers, params, body, requestId }) => {
      const who = await auth.authenticate(headers, true);
      const target = `Claim/${params.claimId}`;
      let input: ReturnType<typeof parseDecisionInput> | undefined;
      try {
        input = parseDecisionInput(body, who?.reviewer);
        const result = await service.decide(params.claimId ?? '', input);
        await ctx.store.audit({ requestId, action: `review.${input.action}`, actor: actorOf(who, input.reviewer), policyId: result.record.policyId, outcome: target, status: 200 });
        return { status: 200, body: result.bundle };
      } catch (error) {
        const status = (error as { status?: number }).status ?? 500;
        await ctx.store.audit({ requestId, action: `review.${input?.action ?? 'decision'}`, actor: actorOf(who, input?.reviewer ?? reviewerOf(who, body)), outcome: target, status });
        throw error;
      }
    }, ctx),
  );
  router.post(
    '/review/api/claims/:claimId/assignment',
    route(async ({ headers, params, body, requestId }) => {
      const who = await auth.authenticate(headers, true);
      const target = `Claim/${params.claimId}`;
      const input = parseAssignInput(body, who?.reviewer);
      try {
        const { record, action } = await service.assign(params.claimId ?? '', input.assignee, input.reviewer);
        await ctx.store.audit({ requestId, action: 'review.assign', actor: actorOf(who, input.reviewer), outcome: target, status: 200 });
        return { status: 200, contentType: JSON_TYPE, body: { claimId: record.id, assignee: record.assignee, action } };
      } catch (error) {
        await ctx.store.audit({ requestId, action: 'review.assign', actor: actorOf(who, input.reviewer), outcome: target, status: (error as { status?: number }).status ?? 500 });
        throw error;
      }
    }, ctx),
  );
  // RFC 6750: a 401 from the review API names the scheme it wants.
  router.use('/review', (error: unknown, _req: Request, res: Response, next: NextFunction) => {
    const challenge = (error as { wwwAuthenticate?: unknown } | null)?.wwwAuthenticate;
    if (typeof challenge === 'string') res.setHeader('WWW-Authenticate', challenge);
    next(error);
  });

  router.get(
    '/reports/prior-authorization',
    route(async (input) => {
      const window = { since: parseReportBound(input.query.since, 'since'), until: parseReportBound(input.query.until, 'until') };
      const report = await priorAuthorizationReport({ store: ctx.store, catalog: ctx.engine.catalog, clock: ctx.clock }, window);
      if (wantsHtml(input)) return { status: 200, contentType: HTML_TYPE, body: renderReportHtml(report) };
      return { status: 200, contentType: JSON_TYPE, body: report };
    }, ctx),
  );
};
