/**
 * PAS routes: `POST /fhir/Claim/$submit`, and reads of what was stored
 * (`GET /fhir/Claim/:id`, `GET /fhir/ClaimResponse/:id`).
 */
import { route, type RouteModule } from '../app';
import { submitClaim } from '../../pas/submit';
import { notFound } from '../../fhir/outcomes';
import { auditRead } from '../../auth/audit';
import { clientMaySee } from '../../pas/submitter';
import { assertResourceStructure } from '../../fhir/structure';

export const pasRoutes: RouteModule = (router, ctx) => {
  router.post(
    '/fhir/Claim/\\$submit',
    route(async ({ body, requestId, client }) => {
      // R4 structure and size bounds first: the PAS checks and the engine read only well-typed resources.
      const warnings = assertResourceStructure(body, ctx.config.limits);
      if (warnings.length > 0) ctx.logger.info('structure warnings', { requestId, count: warnings.length });
      const result = await submitClaim(ctx, body, requestId, client);
      return { status: result.status, body: result.body };
    }, ctx),
  );
  router.get(
    '/fhir/Claim/:id',
    route(async ({ params, requestId, client }) => {
      // Another organization's request is answered as unknown (404), not forbidden: ids reveal nothing.
      const stored = await ctx.store.getClaim(params.id ?? '');
      const record = stored && clientMaySee(client, stored.requestBundle) ? stored : null;
      await auditRead(ctx.store, { requestId, client, action: 'pas.read', target: `Claim/${params.id}`, status: record ? 200 : 404 });
      if (!record) throw notFound(`Claim/${params.id} is not known here.`);
      return { status: 200, body: record.claim };
    }, ctx),
  );
  router.get(
    '/fhir/ClaimResponse/:id',
    route(async ({ params, requestId, client }) => {
      const found = await ctx.store.getClaimResponse(params.id ?? '');
      const claimId = /^Claim\/([^/]+)$/.exec(found?.request?.reference ?? '')?.[1];
      const claim = client && claimId ? await ctx.store.getClaim(claimId) : null;
      const response = found && (!client || (claim && clientMaySee(client, claim.requestBundle))) ? found : null;
      await auditRead(ctx.store, { requestId, client, action: 'pas.read', target: `ClaimResponse/${params.id}`, status: response ? 200 : 404 });
      if (!response) throw notFound(`ClaimResponse/${params.id} is not known here.`);
      return { status: 200, body: response };
    }, ctx),
  );
};
