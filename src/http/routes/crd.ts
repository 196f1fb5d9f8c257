/**
 * CDS Hooks routes for CRD: discovery, the hook services and feedback. Every call is
 * authenticated with the CDS Hooks JWT when trusted issuers are configured, and audited (a hook
 * call by src/crd/hook.ts, which runs the authentication inside its audit).
 */
import { route, type RouteModule } from '../app';
import { createJwtVerifier } from '../../crd/jwt';
import { discovery, handleFeedback, handleHook } from '../../crd/hook';
import { guardedFetcherFactory } from '../../auth/outbound';
import { countDecision } from '../../ops/metrics';

export const crdRoutes: RouteModule = (router, ctx) => {
  const verifier =
    ctx.config.trustedIssuers.length > 0
      ? createJwtVerifier(ctx.config.trustedIssuers, { now: ctx.clock, remember: (key, expiresAt) => ctx.store.rememberJti(`cds|${key}`, expiresAt, ctx.clock()) })
      : null;
  const issuers = new Map(ctx.config.trustedIssuers.map((i) => [i.iss, i]));
  const json = 'application/json';
  const authenticate = async (headers: Record<string, string | string[] | undefined>, url: string) => {
    if (!verifier) return null;
    const header = headers.authorization;
    return verifier.verify(Array.isArray(header) ? header[0] : header, url);
  };

  router.get('/cds-services', route(async () => ({ status: 200, contentType: json, body: discovery(ctx.engine) }), ctx));

  router.post(
    '/cds-services/:id',
    route(async ({ params, body, headers, url, requestId }) => {
      const result = await handleHook(
        params.id ?? '',
        body,
        {
          engine: ctx.engine,
          store: ctx.store,
          logger: ctx.logger,
          clock: ctx.clock,
          publicBaseUrl: ctx.config.publicBaseUrl,
          // With JWT verification on, fhirServer must be https and listed for the token's issuer.
          requireHttpsFhirServer: verifier !== null,
          limits: ctx.config.limits,
          ...(ctx.structure ? { structure: ctx.structure } : {}),
        },
        {
          requestId,
          authenticate: async () => {
            const claims = await authenticate(headers, url);
            return {
              actor: claims ? `${claims.iss}${claims.sub ? `|${claims.sub}` : ''}` : null,
              fetcherFactory: guardedFetcherFactory(
                claims ? { caller: `issuer ${claims.iss}`, allowed: issuers.get(claims.iss)?.fhirServers ?? [] } : { caller: 'open mode', allowed: null },
                ctx.fhirFetcherFactory,
              ),
            };
          },
        },
      );
      result.outcomes.forEach((o, i) => countDecision('crd', result.policyIds[i] || null, o));
      return { status: 200, contentType: json, body: result.response };
    }, ctx),
  );

  router.post(
    '/cds-services/:id/feedback',
    route(async ({ params, body, headers, url, requestId }) => {
      await authenticate(headers, url);
      await handleFeedback(params.id ?? '', body, ctx.store);
      await ctx.store.audit({ requestId, action: 'crd.feedback', status: 200 });
      return { status: 200, contentType: json, body: {} };
    }, ctx),
  );
};
