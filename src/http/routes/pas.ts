/**
 * PAS routes: `POST /fhir/Claim/$submit`, and reads of what was stored
 * (`GET /fhir/Claim/:id`, `GET /fhir/ClaimResponse/:id`).
 */
import { route, type RouteModule } from '../app';
import { submitClaim } from '../../pas/submit';
import { notFound } from '../../fhir/outcomes';
import { auditRead } from '../../auth/audit';

export const pasRoutes: RouteModule = (router, ctx) => {
  router.post(
    '/fhir/Claim/\\$submit',
    route(async ({ body, requestId }) => {
      const result = await submitClaim(ctx, body, requestId);
      return { status: result.status, body: result.body };
    }, ctx),
  );
  router.get(
    '/fhir/Claim/:id',
    route(async ({ params, requestId, client }) => {
      const record = await ctx.store.getClaim(params.id ?? '');
      await auditRead(ctx.store, { requestId, client, action: 'pas.read', target: `Claim/${params.id}`, status: record ? 200 : 404 });
      if (!record) throw notFound(`Claim/${params.id} is not known here.`);
      return { status: 200, body: record.claim };
    }, ctx),
  );
  router.get(
    '/fhir/ClaimResponse/:id',
    route(async ({ params, requestId, client }) => {
      const response = await ctx.store.getClaimResponse(params.id ?? '');
      await auditRead(ctx.store, { requestId, client, action: 'pas.read', target: `ClaimResponse/${params.id}`, status: response ? 200 : 404 });
      if (!response) throw notFound(`ClaimResponse/${params.id} is not known here.`);
      return { status: 200, body: response };
    }, ctx),
  );
};
