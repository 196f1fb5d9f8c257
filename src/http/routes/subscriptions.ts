/**
 * PAS Subscriptions: `POST/GET /fhir/Subscription`, `GET/PUT/DELETE /fhir/Subscription/:id`,
 * `GET /fhir/Subscription/:id/$status` (src/subscriptions/service.ts).
 */
import { route, type AppContext, type RouteModule } from '../app';
import {
  createSubscription,
  deleteSubscription,
  readSubscription,
  searchSubscriptions,
  subscriptionStatusOperation,
  updateSubscription,
  type SubscriptionDeps,
} from '../../subscriptions/service';

export function subscriptionDeps(ctx: AppContext): SubscriptionDeps {
  return {
    store: ctx.store,
    logger: ctx.logger,
    clock: ctx.clock,
    fhirBase: `${ctx.config.publicBaseUrl}/fhir`,
    authenticated: ctx.config.smartClients.length > 0,
    timeoutMs: ctx.config.subscriptions.timeoutMs,
  };
}

export const subscriptionRoutes: RouteModule = (router, ctx) => {
  const deps = subscriptionDeps(ctx);
  router.post('/fhir/Subscription', route(({ body, client }) => createSubscription(deps, body, client), ctx));
  router.get('/fhir/Subscription', route(({ client }) => searchSubscriptions(deps, client), ctx));
  router.get('/fhir/Subscription/:id/\\$status', route(({ params, client }) => subscriptionStatusOperation(deps, params.id ?? '', client), ctx));
  router.get('/fhir/Subscription/:id', route(({ params, client }) => readSubscription(deps, params.id ?? '', client), ctx));
  router.put('/fhir/Subscription/:id', route(({ params, body, client }) => updateSubscription(deps, params.id ?? '', body, client), ctx));
  router.delete('/fhir/Subscription/:id', route(({ params, client }) => deleteSubscription(deps, params.id ?? '', client), ctx));
};
