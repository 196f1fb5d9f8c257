/**
 * DTR routes (Da Vinci DTR 2.0.1, SDC): the published Questionnaires, Libraries and ValueSets
 * (read, search by url, `$expand`), `$questionnaire-package`, `$populate` and `$next-question`.
 */
import type { Bundle, Coverage, MedicationRequest, Resource } from 'fhir/r4';
import { route, type AppContext, type RouteModule } from '../app';
import { expandValueSetOperation, readArtifact, searchArtifacts, type Query } from '../../dtr/resources';
import { questionnairePackage, type PolicySelection } from '../../dtr/questionnaire-package';
import { medicationCodes, payerContextOf } from '../../engine/chart-request';
import { populate } from '../../dtr/populate';
import { nextQuestion } from '../../dtr/next-question';
import type { AuthenticatedClient } from '../../auth/smart';
import { guardedFetcherFactory } from '../../auth/outbound';
import { assertResourceStructure } from '../../fhir/structure';

/** Chooses the policy's Questionnaire from the coverage's payer and the order's drug. */
function selectByCoverageAndOrder(ctx: AppContext) {
  return (coverage: Coverage, order: Resource): PolicySelection | null => {
    if (order.resourceType !== 'MedicationRequest') return null;
    const bundle: Bundle = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: coverage }, { resource: order as MedicationRequest }] };
    const selection = ctx.engine.catalog.select(payerContextOf(bundle, coverage, undefined), {
      codes: medicationCodes(bundle, order as MedicationRequest),
    });
    return selection.policy ? { questionnaire: selection.policy.questionnaire } : null;
  };
}

export const dtrRoutes: RouteModule = (router, ctx) => {
  const base = `${ctx.config.publicBaseUrl}/fhir`;
  router.get('/fhir/ValueSet/\\$expand', route(async ({ query }) => expandValueSetOperation(ctx.artifacts, query as Query), ctx));
  router.get(
    '/fhir/ValueSet/:id/\\$expand',
    route(async ({ query, params }) => expandValueSetOperation(ctx.artifacts, query as Query, params.id), ctx),
  );
  router.post(
    '/fhir/Questionnaire/\\$questionnaire-package',
    route(
      async (input) => {
        assertResourceStructure(input.body, ctx.config.limits);
        return questionnairePackage(input.body, {
          artifacts: ctx.artifacts,
          selectPolicy: selectByCoverageAndOrder(ctx),
          lookupAssertion: async (id) => {
            const assertion = await ctx.store.getCoverageAssertion(id);
            return assertion?.questionnaire ? { questionnaire: assertion.questionnaire } : null;
          },
          now: ctx.clock,
        });
      },
      ctx,
    ),
  );
  // A fhirServer is read only when it is listed for the calling SMART client (open mode: any).
  const sdcDeps = (client: AuthenticatedClient | undefined) => ({
    engine: ctx.engine,
    artifacts: ctx.artifacts,
    now: ctx.clock,
    publicBaseUrl: ctx.config.publicBaseUrl,
    fetcherFactory: guardedFetcherFactory(
      client ? { caller: `client ${client.clientId}`, allowed: client.fhirServers } : { caller: 'open mode', allowed: null },
      ctx.fhirFetcherFactory,
    ),
  });
  // Every resource in the input (Parameters, data Bundles, QuestionnaireResponse) has the base R4 structure first.
  const checked = (body: unknown) => {
    assertResourceStructure(body, ctx.config.limits);
    return body;
  };
  router.post('/fhir/Questionnaire/\\$populate', route(async ({ body, client }) => populate(checked(body), sdcDeps(client)), ctx));
  router.post('/fhir/Questionnaire/:id/\\$populate', route(async ({ body, params, client }) => populate(checked(body), sdcDeps(client), params.id), ctx));
  router.post('/fhir/Questionnaire/\\$next-question', route(async ({ body, client }) => nextQuestion(checked(body), sdcDeps(client)), ctx));
  for (const type of ['Questionnaire', 'Library', 'ValueSet'] as const) {
    router.get(`/fhir/${type}`, route(async ({ query }) => searchArtifacts(ctx.artifacts, type, query as Query, base), ctx));
    router.get(`/fhir/${type}/:id`, route(async ({ params }) => readArtifact(ctx.artifacts, type, params.id ?? ''), ctx));
  }
};
