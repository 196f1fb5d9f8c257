/** PAS `POST /fhir/Claim/$inquire` (src/pas/inquire.ts). */
import { route, type RouteModule } from '../app';
import { inquire } from '../../pas/inquire';

export const inquireRoutes: RouteModule = (router, ctx) => {
  const deps = { store: ctx.store, clock: ctx.clock, fhirBase: `${ctx.config.publicBaseUrl}/fhir` };
  router.post('/fhir/Claim/\\$inquire', route(({ body, requestId, client }) => inquire(deps, body, requestId, client), ctx));
};
