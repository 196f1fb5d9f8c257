/**
 * PAS routes: `POST /fhir/Claim/$submit`, and reads of what was stored
 * (`GET /fhir/Claim/:id`, `GET /fhir/ClaimResponse/:id`).
 */
import { route, type RouteModule } from '../app';
import { submitClaim } from '../../pas/submit';
import { notFound } from '../../fhir/outcomes';

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
    route(async ({ params }) => {
      const record = await ctx.store.getClaim(params.id ?? '');
      if (!record) throw notFound(`Claim/${params.id} is not known here.`);
      return { status: 200, body: record.claim };
    }, ctx),
  );
  router.get(
    '/fhir/ClaimResponse/:id',
    route(async ({ params }) => {
      const response = await ctx.store.getClaimResponse(params.id ?? '');
      if (!response) throw notFound(`ClaimResponse/${params.id} is not known here.`);
      return { status: 200, body: response };
    }, ctx),
  );
};
