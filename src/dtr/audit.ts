/**
 * The audit rows of DTR's operations and Questionnaire reads (src/authorization/audit.ts writes them):
 * the calling SMART client, the policies of the Questionnaires served, an outcome, the status and the
 * latency. Never a patient id or a resource body: the audit table has no place for them (a package
 * for a CRD coverage assertion carries that CDS Hooks call's `hookInstance` instead).
 */
import type { Bundle, Parameters, QuestionnaireResponse } from 'fhir/r4';
import type { PolicyCatalog } from '../catalog/catalog';
import { audited } from '../authorization';
import type { Store } from '../store';

export type DtrAuditAction = 'dtr.questionnaire-package' | 'dtr.populate' | 'dtr.next-question' | 'dtr.questionnaire-read' | 'dtr.questionnaire-search';

export interface DtrCall {
  requestId: string;
  action: DtrAuditAction;
  /** The SMART client id; null in open mode. */
  actor: string | null;
}

/** What an answer says for its row. */
export interface DtrFacts {
  /** The Questionnaires served (their policies go in `policyId`). */
  canonicals?: string[];
  outcome: string;
  hookInstance?: string | null;
}

export interface DtrAuditDeps {
  store: Store;
  catalog: Pick<PolicyCatalog, 'byQuestionnaire'>;
}

/** Runs one DTR operation or read and writes its audit row, failures included. */
export function auditedDtr<T>(
  deps: DtrAuditDeps,
  call: DtrCall,
  run: () => Promise<{ status: number; body: T }>,
  facts: (body: T) => DtrFacts,
): Promise<{ status: number; body: T }> {
  return audited(deps.store, call, run, (result) => {
    const { canonicals = [], outcome, hookInstance = null } = facts(result.body);
    const policies = [...new Set(canonicals.flatMap((c) => deps.catalog.byQuestionnaire(c)?.id ?? []))];
    return { policyId: policies.join(',') || null, outcome, status: result.status, ...(hookInstance ? { hookInstance } : {}) };
  });
}

/** `$questionnaire-package`: the Questionnaires of its PackageBundles (`packages:N`, or `no-package`). */
export function packageFacts(body: Bundle | Parameters, hookInstance: string | null): DtrFacts {
  const packages = body.resourceType === 'Parameters' ? (body.parameter ?? []).map((p) => p.resource) : [body];
  const canonicals = packages.flatMap(
    (p) => (p?.resourceType === 'Bundle' ? p : undefined)?.entry?.flatMap((e) => (e.resource?.resourceType === 'Questionnaire' && e.resource.url ? [e.resource.url] : [])) ?? [],
  );
  return { canonicals, outcome: canonicals.length > 0 ? `packages:${canonicals.length}` : 'no-package', hookInstance };
}

/** `$populate` / `$next-question`: the form answered and the QuestionnaireResponse's status. */
export function responseFacts(qr: QuestionnaireResponse | undefined): DtrFacts {
  // An adaptive form names its contained Questionnaire, which is derived from the policy's.
  const contained = (qr?.contained ?? []).flatMap((r) => (r.resourceType === 'Questionnaire' ? [r.url, ...(r.derivedFrom ?? [])] : []));
  const canonicals = [qr?.questionnaire, ...contained].filter((c): c is string => typeof c === 'string' && !c.startsWith('#'));
  return { canonicals, outcome: qr?.status ?? 'no-response' };
}

/** `$populate` answers a Parameters with the QuestionnaireResponse in `response`. */
export function populateFacts(body: Parameters): DtrFacts {
  return responseFacts(body.parameter?.find((p) => p.name === 'response')?.resource as QuestionnaireResponse | undefined);
}

/** `GET Questionnaire/{id}`: the `Type/id` read (an opaque id, as the PAS read audit does). */
export function readFacts(id: string): (body: { url?: string }) => DtrFacts {
  return (body) => ({ canonicals: body.url ? [body.url] : [], outcome: `Questionnaire/${id.slice(0, 64)}` });
}

/** `GET Questionnaire?…`: how many matched. */
export function searchFacts(body: Bundle): DtrFacts {
  return { outcome: `Questionnaire:${body.total ?? body.entry?.length ?? 0}` };
}
