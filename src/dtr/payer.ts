/**
 * Which payer a DTR client's Coverage names. A DTR app often sends the EHR's Coverage as stored:
 * `payor` a literal reference to the EHR's Organization, without an identifier. We tell the payer
 * from, in order: `payor.identifier`; a contained Organization (`payor.reference = #id`); an
 * Organization the client sent in `referenced` ($questionnaire-package, DTR 2.0.1 input).
 * The CRD coverage-assertion-id (`context`) needs no payer at all: the assertion names the form.
 * Not supported: a per-payer base URL (`/payers/{id}/fhir`); this server is one payer's endpoint.
 */
import type { Coverage, Identifier, Organization, Resource } from 'fhir/r4';

function organizationFor(reference: string | undefined, coverage: Coverage, referenced: Resource[]): Organization | undefined {
  if (!reference) return undefined;
  if (reference.startsWith('#')) {
    return coverage.contained?.find((c): c is Organization => c.resourceType === 'Organization' && `#${c.id ?? ''}` === reference);
  }
  const id = /(?:^|\/)Organization\/([^/]+)$/.exec(reference)?.[1];
  return referenced.find((r): r is Organization => r.resourceType === 'Organization' && r.id === id);
}

/**
 * The Coverage with each `payor` that has no identifier given the identifier of the Organization it
 * points to (contained or referenced), or the problem to report when no payor can be identified.
 */
export function identifyPayor(coverage: Coverage, referenced: Resource[]): { coverage: Coverage } | { problem: string } {
  const payor = (coverage.payor ?? []).map((p) => {
    if (p.identifier?.value) return p;
    const identifier: Identifier | undefined = organizationFor(p.reference, coverage, referenced)?.identifier?.find((i) => i.value);
    return identifier ? { ...p, identifier } : p;
  });
  if (payor.some((p) => p.identifier?.value)) return { coverage: { ...coverage, payor } };
  const named = (coverage.payor ?? []).map((p) => p.reference ?? p.display ?? '(empty)').join(', ') || 'nothing';
  return {
    problem:
      `Coverage${coverage.id ? `/${coverage.id}` : ''}.payor (${named}) carries no payer identifier. Send payor.identifier, ` +
      'the payer Organization (contained, or in "referenced") with its identifier, or the CRD coverage-assertion-id as "context".',
  };
}
