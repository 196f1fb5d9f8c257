/**
 * Which FHIR servers the server may read on a caller's behalf (CDS Hooks `fhirServer`, DTR
 * `$populate` / `$next-question` `fhirServer`). With authentication configured, only the servers
 * listed for the caller (per CDS Hooks issuer, per SMART client), and only over https; anything else
 * is refused before any connection is made. Open mode (no authentication) keeps any http(s) server.
 */
import { badRequest, forbidden } from '../fhir/outcomes';
import { createFhirKitFetcher, type FhirFetcherFactory } from '../fhir/fetcher';

export interface OutboundPolicy {
  /** Who the list belongs to, for the error text (client id or issuer). */
  caller: string;
  /** Base URLs allowed; null = open mode, no restriction. */
  allowed: string[] | null;
}

const normalize = (url: string) => url.trim().replace(/\/+$/, '');

/** Wraps a fetcher factory so that it refuses servers the caller may not use. */
export function guardedFetcherFactory(policy: OutboundPolicy, inner: FhirFetcherFactory = createFhirKitFetcher): FhirFetcherFactory {
  if (policy.allowed === null) return inner;
  const allowed = new Set(policy.allowed.map(normalize));
  return (access) => {
    const base = normalize(access.baseUrl);
    if (!/^https:\/\//i.test(base)) throw badRequest(`fhirServer must be an https URL when authentication is configured; ${base} is not read.`, 'fhirServer', 'security');
    if (!allowed.has(base)) throw forbidden(`fhirServer ${base} is not listed for ${policy.caller}; it is not read.`);
    return inner({ ...access, baseUrl: base });
  };
}
