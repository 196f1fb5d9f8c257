/**
 * Clinical review: the workbench page (`GET /review`), its JSON API under `/review/api`, and the
 * CMS-0057-F figures (`GET /reports/prior-authorization`, JSON or an HTML page by Accept).
 *
 * Access: there is no reviewer sign-in yet. The review API and page are served only while the
 * server runs open (no SMART_CLIENTS, no CDS_TRUSTED_ISSUERS), which start-up announces loudly
 * and NODE_ENV=production refuses; with authentication configured they answer 401. Every review
 * read and action is audited (who, `Claim/id`, status; never content).
 */
import fs from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, type Config } from '../../config';
import { auditRead } from '../../auth/audit';
import { notFound, unauthorized } from '../../fhir/outcomes';
import { parseAssignInput, parseDecisionInput } from '../../review/input';
import { parseReportBound, priorAuthorizationReport, renderReportHtml } from '../../review/report';
import { ReviewService } from '../../review/service';
import { route, type HandlerInput, type RouteModule } from '../app';

const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';
const WORKBENCH_DIR = path.join(REPO_ROOT, 'src', 'review', 'workbench');
const ASSETS: Record<string, string> = {
  'workbench.js': 'text/javascript; charset=utf-8',
  'workbench.css': 'text/css; charset=utf-8',
};

/** The review screens are open only when the whole server is (development). */
export function reviewIsOpen(config: Pick<Config, 'smartClients' | 'trustedIssuers'>): boolean {
  return config.smartClients.length === 0 && config.trustedIssuers.length === 0;
}

function wantsHtml(input: HandlerInput): boolean {
  const format = input.query.format;
  if (format === 'json') return false;
  if (format === 'html') return true;
  const accept = String(input.headers.accept ?? '');
  return accept.includes('text/html') && !accept.startsWith('application/json');
}

export const reviewRoutes: RouteModule = (router, ctx) => {
  const service = new ReviewService({
    store: ctx.store,
    catalog: ctx.engine.catalog,
    clock: ctx.clock,
    timeZone: ctx.engine.timeZone,
    baseUrl: `${ctx.config.publicBaseUrl}/fhir`,
  });
  const guard = () => {
    if (!reviewIsOpen(ctx.config)) {
      throw unauthorized('The review workbench needs reviewer sign-in, which this server does not offer yet; it is served only in development (open) mode.');
    }
  };
  const actorOf = (reviewer?: { name: string; role: string }) => (reviewer ? `${reviewer.role}:${reviewer.name}` : 'anonymous');

  router.get(
    '/review',
    route(async () => {
      guard();
      return { status: 200, contentType: HTML_TYPE, body: fs.readFileSync(path.join(WORKBENCH_DIR, 'index.html'), 'utf8') };
    }, ctx),
  );
  router.get(
    '/review/assets/:file',
    route(async ({ params }) => {
      guard();
      const type = ASSETS[params.file ?? ''];
      if (!type) throw notFound(`No workbench asset ${params.file}.`);
      return { status: 200, contentType: type, body: fs.readFileSync(path.join(WORKBENCH_DIR, params.file ?? ''), 'utf8') };
    }, ctx),
  );

  router.get(
    '/review/api/queue',
    route(async ({ requestId }) => {
      guard();
      const items = await service.queue();
      await auditRead(ctx.store, { requestId, action: 'review.queue', target: `queue:${items.length}`, status: 200 });
      return { status: 200, contentType: JSON_TYPE, body: { items, generatedAt: ctx.clock().toISOString() } };
    }, ctx),
  );
  router.get(
    '/review/api/claims/:claimId',
    route(async ({ params, requestId }) => {
      guard();
      const detail = await service.detail(params.claimId ?? '');
      await auditRead(ctx.store, { requestId, action: 'review.read', target: `Claim/${params.claimId}`, status: detail ? 200 : 404 });
      if (!detail) throw notFound(`No prior authorization request Claim/${params.claimId} is on file.`);
      return { status: 200, contentType: JSON_TYPE, body: detail };
    }, ctx),
  );
  router.post(
    '/review/api/claims/:claimId/decision',
    route(async ({ params, body, requestId }) => {
      guard();
      const target = `Claim/${params.claimId}`;
      let input: ReturnType<typeof parseDecisionInput> | undefined;
      try {
        input = parseDecisionInput(body);
        const result = await service.decide(params.claimId ?? '', input);
        await ctx.store.audit({ requestId, action: `review.${input.action}`, actor: actorOf(input.reviewer), policyId: result.record.policyId, outcome: target, status: 200 });
        return { status: 200, body: result.bundle };
      } catch (error) {
        const status = (error as { status?: number }).status ?? 500;
        await ctx.store.audit({ requestId, action: `review.${input?.action ?? 'decision'}`, actor: actorOf(input?.reviewer), outcome: target, status });
        throw error;
      }
    }, ctx),
  );
  router.post(
    '/review/api/claims/:claimId/assignment',
    route(async ({ params, body, requestId }) => {
      guard();
      const target = `Claim/${params.claimId}`;
      const input = parseAssignInput(body);
      try {
        const { record, action } = await service.assign(params.claimId ?? '', input.assignee, input.reviewer);
        await ctx.store.audit({ requestId, action: 'review.assign', actor: actorOf(input.reviewer), outcome: target, status: 200 });
        return { status: 200, contentType: JSON_TYPE, body: { claimId: record.id, assignee: record.assignee, action } };
      } catch (error) {
        await ctx.store.audit({ requestId, action: 'review.assign', actor: actorOf(input.reviewer), outcome: target, status: (error as { status?: number }).status ?? 500 });
        throw error;
      }
    }, ctx),
  );

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
