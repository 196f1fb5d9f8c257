/**
 * Human-readable policy pages: `GET /policies` (every indication's criteria side by side across
 * payers) and `GET /policies/{id}` (one policy; CRD cards link here).
 */
import { route, type RouteModule } from '../app';
import { renderComparisonHtml, renderPolicyPage } from '../../catalog/pages';
import { notFound } from '../../fhir/outcomes';

export const policyRoutes: RouteModule = (router, ctx) => {
  const html = 'text/html; charset=utf-8';
  router.get('/policies', route(async () => ({ status: 200, contentType: html, body: renderComparisonHtml(ctx.engine.catalog.policies) }), ctx));
  router.get(
    '/policies/:id',
    route(async ({ params }) => {
      const policy = ctx.engine.catalog.get(params.id ?? '');
      if (!policy) throw notFound(`No policy ${params.id} in the catalog.`);
      return { status: 200, contentType: html, body: renderPolicyPage(policy) };
    }, ctx),
  );
};
