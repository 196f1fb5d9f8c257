/**
 * PAS routes: `POST /fhir/Claim/$submit`, and reads of what was stored (`GET /fhir/Claim/:id`,
 * `GET /fhir/ClaimResponse/:id`, its versions at `/_history` and `/_history/:vid`).
 */
import type { Bundle } from 'fhir/r4';
import { route, type RouteModule } from '../app';
import { submitClaim } from '../../pas/submit';
import { notFound } from '../../fhir/outcomes';
import { auditRead } from '../../auth/audit';
import { clientMaySeeClaim } from '../../pas/submitter';
import type { AuthenticatedClient } from '../../auth/smart';
import type { ClaimRecord } from '../../store';
import { countDecision } from '../../ops/metrics';
import { checkBody, inProcessStructureChecker } from '../../fhir/structure-checker';

/** Another organization's request is answered as unknown (404), not forbidden: ids reveal nothing. */
function visible(record: ClaimRecord | null, client: AuthenticatedClient | undefined): ClaimRecord | null {
  return record && clientMaySeeClaim(client, record) ? record : null;
}

export const pasRoutes: RouteModule = (router, ctx) => {
  const structure = ctx.structure ?? inProcessStructureChecker();
  router.post(
    '/fhir/Claim/\\$submit',
    route(async ({ body, requestId, client, rawBody }) => {
      // R4 structure and size bounds first: the PAS checks and the engine read only well-typed resources.
      const { warnings, contentHash } = await checkBody(structure, body, ctx.config.limits, { ...(rawBody ? { raw: rawBody } : {}), contentHash: true });
      if (warnings.length > 0) ctx.logger.info('structure warnings', { requestId, count: warnings.length });
      const result = await submitClaim(ctx, body, requestId, client, contentHash ? { contentHash } : {});
      for (const d of result.decisions) countDecision('pas', d.policy?.id ?? null, d.outcome);
      return { status: result.status, body: result.text ?? result.body };
    }, ctx),
  );
  router.get(
    '/fhir/Claim/:id',
    route(async ({ params, requestId, client }) => {
      const record = visible(await ctx.store.getClaim(params.id ?? ''), client);
      await auditRead(ctx.store, { requestId, client, action: 'pas.read', target: `Claim/${params.id}`, status: record ? 200 : 404 });
      if (!record) throw notFound(`Claim/${params.id} is not known here.`);
      return { status: 200, body: record.claim };
    }, ctx),
  );
  router.get(
    '/fhir/ClaimResponse/:id',
    route(async ({ params, requestId, client }) => {
      const record = visible(await ctx.store.getClaimByResponseId(params.id ?? ''), client);
      await auditRead(ctx.store, { requestId, client, action: 'pas.read', target: `ClaimResponse/${params.id}`, status: record ? 200 : 404 });
      if (!record) throw notFound(`ClaimResponse/${params.id} is not known here.`);
      // Versioned (CapabilityStatement): a read says which version it is, as vread and _history do.
      return { status: 200, body: { ...record.claimResponse, meta: { ...record.claimResponse.meta, versionId: String(record.version) } } };
    }, ctx),
  );
  // Every answer the request has had: the $submit answer, then each review decision, update or cancel.
  router.get(
    '/fhir/ClaimResponse/:id/_history',
    route(async ({ params, requestId, client }) => {
      const record = visible(await ctx.store.getClaimByResponseId(params.id ?? ''), client);
      await auditRead(ctx.store, { requestId, client, action: 'pas.read', target: `ClaimResponse/${params.id}/_history`, status: record ? 200 : 404 });
      if (!record) throw notFound(`ClaimResponse/${params.id} is not known here.`);
      const versions = await ctx.store.listClaimResponseVersions(record.id);
      const bundle: Bundle = {
        resourceType: 'Bundle',
        type: 'history',
        total: versions.length,
        entry: [...versions].reverse().map((v) => ({
          fullUrl: `${ctx.config.publicBaseUrl}/fhir/ClaimResponse/${record.claimResponseId}`,
          resource: { ...v.claimResponse, meta: { ...v.claimResponse.meta, versionId: String(v.version), lastUpdated: v.createdAt } },
          request: { method: v.version === 1 ? 'POST' : 'PUT', url: `ClaimResponse/${record.claimResponseId}` },
          response: { status: v.version === 1 ? '201' : '200', lastModified: v.createdAt },
        })),
      };
      return { status: 200, body: bundle };
    }, ctx),
  );
  router.get(
    '/fhir/ClaimResponse/:id/_history/:vid',
    route(async ({ params, requestId, client }) => {
      const record = visible(await ctx.store.getClaimByResponseId(params.id ?? ''), client);
      const version = record ? (await ctx.store.listClaimResponseVersions(record.id)).find((v) => String(v.version) === params.vid) : undefined;
      const target = `ClaimResponse/${params.id}/_history/${params.vid}`;
      await auditRead(ctx.store, { requestId, client, action: 'pas.read', target, status: version ? 200 : 404 });
      if (!version) throw notFound(`${target} is not known here.`);
      return { status: 200, body: { ...version.claimResponse, meta: { ...version.claimResponse.meta, versionId: String(version.version), lastUpdated: version.createdAt } } };
    }, ctx),
  );
};
