/**
 * Edge validation of a CDS Hooks service request for our order hooks.
 *
 * https://cds-hooks.hl7.org/2.0/#http-request_1
 * Hook contexts: https://cds-hooks.org/hooks/order-sign/, /order-select/, /order-dispatch/
 *
 * Supports: `hook` (must be the service's hook), `hookInstance` (UUID), `fhirServer` (http(s) URL;
 * https when `requireHttpsFhirServer`), `fhirAuthorization` (Bearer; requires `fhirServer`, cds-r-1),
 * `context` per hook (order-sign: userId, patientId, encounterId?, draftOrders as a collection
 * Bundle; order-select: plus `selections` that name draft orders; order-dispatch: patientId,
 * `dispatchedOrders` (or the older single `order`), `performer`, `fulfillmentTasks`?), `prefetch`
 * (each value a FHIR resource or null), `extension`. Unknown fields are kept and ignored.
 *
 * Malformed input becomes a 400 OperationOutcome with one issue per problem, each naming the
 * element (`context.draftOrders`, `context.selections[0]`...).
 */
import type { Bundle, FhirResource, OperationOutcomeIssue } from 'fhir/r4';
import { z } from 'zod';
import { badRequestMany, expressionOf, issue, tooLarge } from '../fhir/outcomes';
import { checkStructure, DEFAULT_LIMITS, structureWarnings, type RequestLimits, type StructurePart } from '../fhir/structure';
import type { StructureChecker } from '../fhir/structure-checker';
import { parseReference, patientReference } from '../fhir/reference';
import { HOOKS, type HookName } from './types';

export interface ParseOptions {
  /** CDS Hooks: the fhirServer scheme MUST be https when production data is exchanged. */
  requireHttpsFhirServer?: boolean;
  /** Bundle entry and Claim item bounds for draftOrders and prefetch (default DEFAULT_LIMITS). */
  limits?: RequestLimits;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const RELATIVE_REFERENCE = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/;

const fhirId = z.string({ error: 'must be a FHIR resource id' }).regex(FHIR_ID, { error: 'must be a FHIR resource id' });
const reference = z
  .string({ error: 'must be a relative reference such as "Practitioner/123"' })
  .regex(RELATIVE_REFERENCE, { error: 'must be a relative reference such as "Practitioner/123"' });
// zod checks only the resourceType; parseCdsHooksRequest then checks every resource against the
// base R4 structure (checkResource) before anything reads it, so the schema types it as one.
const resource = z
  .looseObject({ resourceType: z.string({ error: 'must name a FHIR resourceType' }).min(1) })
  .transform((r) => r as unknown as FhirResource);
const collectionBundle = z
  .looseObject({
    resourceType: z.literal('Bundle', { error: 'must be a FHIR Bundle' }),
    type: z.literal('collection', { error: 'must be a Bundle of type "collection"' }),
    entry: z.array(z.looseObject({ resource })).optional(),
  })
  .transform((b) => b as unknown as Bundle);

/**
 * Every context field of the order hooks, each optional but `patientId`: the narrowed context's
 * type. The per-hook schemas below require what their hook requires.
 */
const contextFields = {
  /** `Practitioner/123` or `PractitionerRole/123`; absent only for order-dispatch. */
  userId: reference.optional(),
  patientId: fhirId,
  encounterId: fhirId.optional(),
  /** order-sign and order-select. */
  draftOrders: collectionBundle.optional(),
  /** order-select: `MedicationRequest/103`-style references into draftOrders. */
  selections: z.array(reference, { error: 'must be an array of references into draftOrders' }).min(1, { error: 'must name at least one order' }).optional(),
  /** order-dispatch: references of the orders being dispatched (the older `order` is folded in). */
  dispatchedOrders: z.array(reference, { error: 'must be an array of order references' }).min(1, { error: 'must name at least one order' }).optional(),
  performer: reference.optional(),
  fulfillmentTasks: z.array(resource).optional(),
};
const orderContext = z.looseObject(contextFields);

const signContext = z.looseObject({ ...contextFields, userId: reference, draftOrders: collectionBundle });
const selectContext = signContext.extend({ selections: contextFields.selections.unwrap() });
const dispatchContext = z
  .looseObject({ ...contextFields, order: reference.optional(), performer: reference })
  .refine((c) => c.dispatchedOrders !== undefined || c.order !== undefined, {
    error: 'is required (the references of the orders being dispatched)',
    path: ['dispatchedOrders'],
  })
  // The older single `order` is folded into dispatchedOrders.
  .transform(({ order, ...context }) => (context.dispatchedOrders === undefined && order !== undefined ? { ...context, dispatchedOrders: [order] } : context));

const CONTEXTS: Record<HookName, z.ZodType<OrderContext, unknown>> = {
  'order-sign': signContext,
  'order-select': selectContext,
  'order-dispatch': dispatchContext,
};

const fhirAuthorization = z.looseObject({
  access_token: z.string({ error: 'is required' }).min(1, { error: 'is required' }),
  token_type: z.string({ error: 'is required' }).regex(/^bearer$/i, { error: 'must be "Bearer"' }),
  expires_in: z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' }).nonnegative(),
  scope: z.string({ error: 'is required' }),
  subject: z.string({ error: 'is required' }),
  patient: z.string().optional(),
});

function requestSchema(options: ParseOptions, context: z.ZodType<OrderContext, unknown> = orderContext) {
  const scheme = options.requireHttpsFhirServer ? /^https:\/\//i : /^https?:\/\//i;
  return z
    .object({
      hook: z.string({ error: 'is required' }).pipe(z.enum(HOOKS)),
      hookInstance: z.string({ error: 'must be a UUID' }).regex(UUID, { error: 'must be a UUID' }),
      fhirServer: z
        .string({ error: 'must be a URL' })
        .regex(scheme, { error: options.requireHttpsFhirServer ? 'must be an https URL' : 'must be an http(s) URL' })
        .refine((v) => URL.canParse(v), { error: 'must be a URL' })
        .transform((v) => v.replace(/\/+$/, ''))
        .optional(),
      fhirAuthorization: fhirAuthorization.optional(),
      context,
      /** Absent keys were not prefetched; `null` means the client has no data for the key. */
      prefetch: z.record(z.string(), z.union([resource, z.null()], { error: 'must be a FHIR resource or null' })).default({}),
      extension: z.record(z.string(), z.unknown(), { error: 'must be an object' }).default({}),
    })
    .refine((r) => r.fhirAuthorization === undefined || r.fhirServer !== undefined, {
      error: 'is required when fhirAuthorization is given',
      path: ['fhirServer'],
    });
}

/** Built once per hook and scheme rule: zod compiles a schema on its first parse (~1 ms a request when built anew). */
const schemas = new Map<string, ReturnType<typeof requestSchema>>();
function schemaFor(hook: HookName, options: ParseOptions): ReturnType<typeof requestSchema> {
  const key = `${hook} ${options.requireHttpsFhirServer === true}`;
  let schema = schemas.get(key);
  if (!schema) schemas.set(key, (schema = requestSchema(options, CONTEXTS[hook])));
  return schema;
}

/** The context of an order hook request, as the schema narrows it. */
export type OrderContext = z.output<typeof orderContext>;
export type FhirAuthorization = z.output<typeof fhirAuthorization>;
/** A CDS Hooks request to an order hook service, as `parseCdsHooksRequest` returns it (unknown top-level fields dropped). */
export type CdsHooksRequest = z.output<ReturnType<typeof requestSchema>>;

/** `["context","draftOrders","entry",0,"resource"]` → `context.draftOrders.entry[0].resource`. */
export function expressionFor(path: readonly PropertyKey[]): string {
  return expressionOf(path) || '(request)';
}

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = body;
  for (const part of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<PropertyKey, unknown>)[part];
  }
  return node;
}

function zodIssues(error: z.ZodError, body: unknown): OperationOutcomeIssue[] {
  return error.issues.slice(0, 20).map((i) => {
    const expression = expressionFor(i.path);
    const missing = i.code === 'invalid_type' && valueAt(body, i.path) === undefined;
    const text = missing ? `${expression} is required` : `${expression} ${i.message.replace(/^Invalid input: /, '')}`;
    return issue('error', missing ? 'required' : 'invalid', text, expression);
  });
}

/** Checks that need the parsed request: orders belong to the patient, selections exist. */
function crossChecks(request: CdsHooksRequest): OperationOutcomeIssue[] {
  const issues: OperationOutcomeIssue[] = [];
  const { context } = request;
  const entries = context.draftOrders?.entry ?? [];
  entries.forEach((entry, index) => {
    const res = entry.resource as unknown as Record<string, unknown> | undefined;
    if (!res) return;
    const link = patientReference(res);
    const subject = parseReference(link?.reference);
    if (subject && (subject.resourceType !== 'Patient' || subject.id !== context.patientId)) {
      const expression = `context.draftOrders.entry[${index}].resource.${link?.element ?? 'subject'}`;
      issues.push(issue('error', 'invalid', `${expression} refers to another patient than context.patientId`, expression));
    }
  });
  context.selections?.forEach((selection, index) => {
    const found = entries.some((e) => e.resource && `${e.resource.resourceType}/${e.resource.id ?? ''}` === selection);
    if (!found) {
      const expression = `context.selections[${index}]`;
      issues.push(issue('error', 'invalid', `${expression} names an order that is not in context.draftOrders`, expression));
    }
  });
  return issues;
}

/**
 * Validates a hook request body for the service of `hook` and returns its narrowed form.
 * Throws a 400 `OperationOutcomeError` naming each malformed element.
 */
export function parseCdsHooksRequest(body: unknown, hook: HookName, options: ParseOptions = {}): CdsHooksRequest {
  const request = parseShape(body, hook, options);
  structureWarnings(checkStructure(structureParts(request), options.limits ?? DEFAULT_LIMITS));
  return crossChecked(request);
}

/** parseCdsHooksRequest with the R4 structure check on `checker` (worker threads). */
export async function parseCdsHooksRequestWith(checker: StructureChecker, body: unknown, hook: HookName, options: ParseOptions = {}): Promise<CdsHooksRequest> {
  const request = parseShape(body, hook, options);
  const parts = structureParts(request);
  await checker.check(parts, options.limits ?? DEFAULT_LIMITS);
  return crossChecked(request);
}

function parseShape(body: unknown, hook: HookName, options: ParseOptions): CdsHooksRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequestMany([issue('error', 'structure', 'The request body must be a JSON object', '(request)')]);
  }
  const declared = (body as { hook?: unknown }).hook;
  if (declared !== undefined && declared !== hook) {
    throw badRequestMany([issue('error', 'invalid', `hook must be "${hook}" for this service`, 'hook')]);
  }
  const parsed = schemaFor(hook, options).safeParse(body);
  if (!parsed.success) throw badRequestMany(zodIssues(parsed.error, body));
  const request = parsed.data;
  const limits = options.limits ?? DEFAULT_LIMITS;
  // Each draft, selected or dispatched order is one policy evaluation: bounded like the items of a Claim.
  const orderLists: [string, number][] = [
    ['context.draftOrders.entry', request.context.draftOrders?.entry?.length ?? 0],
    ['context.selections', request.context.selections?.length ?? 0],
    ['context.dispatchedOrders', request.context.dispatchedOrders?.length ?? 0],
  ];
  for (const [where, count] of orderLists) {
    if (count > limits.maxClaimItems) {
      throw tooLarge(`${where} may name at most ${limits.maxClaimItems} orders (MAX_CLAIM_ITEMS); this one has ${count}.`, where);
    }
  }
  return request;
}

/** Every resource the request carries must have the base R4 structure before anything reads it. */
function structureParts(request: CdsHooksRequest): StructurePart[] {
  const parts: StructurePart[] = [];
  if (request.context.draftOrders) parts.push({ value: request.context.draftOrders, at: 'context.draftOrders' });
  request.context.fulfillmentTasks?.forEach((task, i) => parts.push({ value: task, at: `context.fulfillmentTasks[${i}]` }));
  for (const [key, value] of Object.entries(request.prefetch)) {
    if (value !== null) parts.push({ value, at: `prefetch.${key}` });
  }
  return parts;
}

function crossChecked(request: CdsHooksRequest): CdsHooksRequest {
  const problems = crossChecks(request);
  if (problems.length > 0) throw badRequestMany(problems);
  return request;
}
