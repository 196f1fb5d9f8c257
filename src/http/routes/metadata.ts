/** `GET /fhir/metadata` and `GET /health`. */
import { route, type RouteModule } from '../app';
import { capabilityStatement } from '../capability';
import { TOKEN_PATH } from '../../auth/smart';

const VERSION = '0.1.0';

export const metadataRoutes: RouteModule = (router, ctx) => {
  const started = ctx.clock().toISOString();
  router.get(
    '/fhir/metadata',
    route(
      async () => ({
        status: 200,
        body: capabilityStatement(ctx.config.publicBaseUrl, VERSION, started, {
          ...(ctx.config.smartClients.length > 0 ? { smartTokenUrl: `${ctx.config.publicBaseUrl}${TOKEN_PATH}` } : {}),
        }),
      }),
      ctx,
    ),
  );
  router.get(
    '/health',
    route(
      async () => ({
        status: 200,
        contentType: 'application/json',
        body: { status: 'ok', store: ctx.store.backend, policies: ctx.engine.catalog.policies.map((p) => p.id) },
      }),
      ctx,
    ),
  );
};
