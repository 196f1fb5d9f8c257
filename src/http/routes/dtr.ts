/**
 * DTR routes (Da Vinci DTR 2.0.1, SDC): the published Questionnaires, Libraries and ValueSets
 * (read, search by url, `$expand` by GET or POST), `$questionnaire-package`, `$populate`, `$next-question`
 * and `$log-questionnaire-errors` (stored with CDS feedback, audited). The operations and the
 * Questionnaire reads are audited, one row each.
 */
import type { Bundle, Coverage, FhirResource, MedicationRequest, Reference, Resource } from 'fhir/r4';
import { route, type AppContext, type HandlerInput, type RouteModule } from '../app';
import { auditedDtr, packageFacts, populateFacts, readFacts, responseFacts, searchFacts, type DtrAuditAction } from '../../dtr/audit';
import { expandQueryFromParameters, expandValueSetOperation, readArtifact, searchArtifacts, type Query } from '../../dtr/resources';
import { logQuestionnaireErrors } from '../../dtr/log-errors';
import { questionnairePackage, type PolicySelection, type SelectionProblem } from '../../dtr/questionnaire-package';
import { identifyPayor } from '../../dtr/payer';
import { medicationCodes, payerContext } from '../../fhir/order-context';
import { populate } from '../../dtr/populate';
import { nextQuestion } from '../../dtr/next-question';
import type { AuthenticatedClient } from '../../auth/smart';
import { guardedFetcherFactory } from '../../auth/outbound';
import { checkBody, inProcessStructureChecker } from '../../fhir/structure-checker';

/** Chooses the policy's Questionnaire from the coverage's payer (src/dtr/payer.ts) and the order's drug. */
function selectByCoverageAndOrder(ctx: AppContext) {
  return (coverage: Coverage, order: Resource, referenced: Resource[]): PolicySelection | SelectionProblem | null => {
    if (order.resourceType !== 'MedicationRequest') return null;
    const identified = identifyPayor(coverage, referenced);
    if ('problem' in identified) return identified;
    const bundle: Bundle = {
      resourceType: 'Bundle',
      type: 'collection',
      entry: [{ resource: identified.coverage }, { resource: order as MedicationRequest }, ...referenced.map((resource) => ({ resource: resource as FhirResource }))],
    };
    const selection = ctx.engine.catalog.select(payerContext(identified.coverage, undefined, bundle), {
      codes: medicationCodes(bundle, order as MedicationRequest),
    });
    return selection.policy ? { questionnaire: selection.policy.questionnaire } : null;
  };
}

/** The order of a coverage assertion, from its order key (store/keys.ts orderKeyOf). */
function orderReference(orderKey: string | null): Reference | undefined {
  if (!orderKey) return undefined;
  const bar = orderKey.indexOf('|');
  const [system, value] = [orderKey.slice(0, bar), orderKey.slice(bar + 1)];
  if (bar < 0 || !value) return undefined;
  if (value.startsWith('MedicationRequest/')) return { reference: `${system}/${value}` };
  return { type: 'MedicationRequest', identifier: { system, value } };
}

export const dtrRoutes: RouteModule = (router, ctx) => {
  const base = `${ctx.config.publicBaseUrl}/fhir`;
  const audit = { store: ctx.store, catalog: ctx.engine.catalog };
  const call = (action: DtrAuditAction, input: HandlerInput) => ({ requestId: input.requestId, action, actor: input.client?.clientId ?? null });
  const structure = ctx.structure ?? inProcessStructureChecker();
  router.get('/fhir/ValueSet/\\$expand', route(async ({ query }) => expandValueSetOperation(ctx.artifacts, query as Query), ctx));
  router.get(
    '/fhir/ValueSet/:id/\\$expand',
    route(async ({ query, params }) => expandValueSetOperation(ctx.artifacts, query as Query, params.id), ctx),
  );
  router.post('/fhir/ValueSet/\\$expand', route(async ({ body }) => expandValueSetOperation(ctx.artifacts, expandQueryFromParameters(body)), ctx));
  router.post(
    '/fhir/ValueSet/:id/\\$expand',
    route(async ({ body, params }) => expandValueSetOperation(ctx.artifacts, expandQueryFromParameters(body), params.id), ctx),
  );
  router.post(
    '/fhir/Questionnaire/\\$log-questionnaire-errors',
    route(
      ({ body, client, requestId }) =>
        logQuestionnaireErrors(body, {
          knowsQuestionnaire: (canonical) => ctx.artifacts.byCanonical('Questionnaire', canonical) !== undefined,
          save: async (report) => {
            const id = await ctx.store.saveFeedback('dtr.log-questionnaire-errors', { ...report, client: client?.clientId ?? null });
            await ctx.store.audit({ requestId, action: 'dtr.log-questionnaire-errors', actor: client?.clientId ?? null, outcome: 'logged', status: 200 });
            return id;
          },
        }),
      ctx,
    ),
  );
  router.post(
    '/fhir/Questionnaire/\\$questionnaire-package',
    route(async (input) => {
      // The CDS Hooks call a coverage assertion came from, so the audit links this read to it.
      let hookInstance: string | null = null;
      return auditedDtr(
        audit,
        call('dtr.questionnaire-package', input),
        async () => {
          await checkBody(structure, input.body, ctx.config.limits, input.rawBody ? { raw: input.rawBody } : {});
          return questionnairePackage(input.body, {
            artifacts: ctx.artifacts,
            selectPolicy: selectByCoverageAndOrder(ctx),
            lookupAssertion: async (id) => {
              const assertion = await ctx.store.getCoverageAssertion(id);
              hookInstance = assertion?.hookInstance ?? null;
              if (!assertion?.questionnaire) return null;
              const order = orderReference(assertion.orderKey);
              return { questionnaire: assertion.questionnaire, ...(order ? { order } : {}) };
            },
            now: ctx.clock,
          });
        },
        (body) => packageFacts(body, hookInstance),
      );
    }, ctx),
  );
  // A fhirServer is read only when it is listed for the calling SMART client (open mode: any).
  const sdcDeps = (client: AuthenticatedClient | undefined) => ({
    engine: ctx.engine,
    artifacts: ctx.artifacts,
    now: ctx.clock,
    publicBaseUrl: ctx.config.publicBaseUrl,
    assertions: ctx.store,
    fetcherFactory: guardedFetcherFactory(
      client ? { caller: `client ${client.clientId}`, allowed: client.fhirServers } : { caller: 'open mode', allowed: null },
      ctx.fhirFetcherFactory,
    ),
  });
  // Every resource in the input (Parameters, data Bundles, QuestionnaireResponse) has the base R4 structure first.
  const checked = async (body: unknown, raw: Uint8Array | undefined) => {
    await checkBody(structure, body, ctx.config.limits, raw ? { raw } : {});
    return body;
  };
  router.post(
    '/fhir/Questionnaire/\\$populate',
    route(async (input) => auditedDtr(audit, call('dtr.populate', input), async () => populate(await checked(input.body, input.rawBody), sdcDeps(input.client)), populateFacts), ctx),
  );
  router.post(
    '/fhir/Questionnaire/:id/\\$populate',
    route(async (input) => auditedDtr(audit, call('dtr.populate', input), async () => populate(await checked(input.body, input.rawBody), sdcDeps(input.client), input.params.id), populateFacts), ctx),
  );
  router.post(
    '/fhir/Questionnaire/\\$next-question',
    route(async (input) => auditedDtr(audit, call('dtr.next-question', input), async () => nextQuestion(await checked(input.body, input.rawBody), sdcDeps(input.client)), responseFacts), ctx),
  );
  // Questionnaire reads and searches are audited (who opened which form); Libraries and ValueSets
  // are the package's plumbing, fetched many times per form, and say nothing of the patient.
  router.get(
    '/fhir/Questionnaire',
    route(async (input) => auditedDtr(audit, call('dtr.questionnaire-search', input), async () => searchArtifacts(ctx.artifacts, 'Questionnaire', input.query as Query, base), searchFacts), ctx),
  );
  router.get(
    '/fhir/Questionnaire/:id',
    route(async (input) => {
      const id = input.params.id ?? '';
      return auditedDtr(audit, call('dtr.questionnaire-read', input), async () => readArtifact(ctx.artifacts, 'Questionnaire', id), readFacts(id));
    }, ctx),
  );
  for (const type of ['Library', 'ValueSet'] as const) {
    router.get(`/fhir/${type}`, route(async ({ query }) => searchArtifacts(ctx.artifacts, type, query as Query, base), ctx));
    router.get(`/fhir/${type}/:id`, route(async ({ params }) => readArtifact(ctx.artifacts, type, params.id ?? ''), ctx));
  }
};
