/**
 * Prefetch token substitution: turns one of our prefetch templates into the FHIR query we run
 * ourselves when the CDS Client did not prefetch that key.
 *
 * https://cds-hooks.hl7.org/2.0/#prefetch-tokens
 * CRD 2.0.1 pre-adopted context-resource tokens: http://hl7.org/fhir/us/davinci-crd/STU2/deviations.html#additional-prefetch-capabilities
 *
 * Supports: `{{context.<field>}}` for primitive and array fields; the user tokens
 * (`{{userPractitionerId}}`, `{{userPractitionerRoleId}}`, `{{userPatientId}}`, `{{userRelatedPersonId}}`);
 * CRD 2.0.1 `{{context.draftOrders.MedicationRequest.id}}`; the FHIRPath subset CRD 2.2 templates use:
 * paths from `context` or `%<prefetch key>` with element steps, `ofType(T)`, `resolve()` (to a
 * reference's type and id, without any read) and `|` unions.
 *
 * Does not support: other FHIRPath functions (`where`, `extension(...)`), resolving `urn:uuid`
 * references between draft resources.
 */
import type { FhirResource } from 'fhir/r4';
import { isRecord } from '../fhir/json';
import { parseReference, type ParsedReference } from '../fhir/reference';
import type { ChartQueries } from '../fhir/chart';

/** What a token can read: the (normalized) hook context and the prefetch results gathered so far. */
export interface TokenScope {
  context: Record<string, unknown>;
  prefetched: Record<string, FhirResource | null | undefined>;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** Splits on `sep` outside parentheses and quotes. */
function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let current = '';
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') quote = ch;
    else if (ch === '(') depth += 1;
    else if (ch === ')') depth -= 1;
    else if (ch === sep && depth === 0) {
      parts.push(current);
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current);
  return parts.map((p) => p.trim());
}


function flatten(values: unknown[]): unknown[] {
  const out: unknown[] = [];
  for (const value of values) {
    if (Array.isArray(value)) out.push(...flatten(value));
    else if (value !== undefined && value !== null) out.push(value);
  }
  return out;
}

function resourcesOf(node: unknown): unknown[] {
  if (isRecord(node) && node.resourceType === 'Bundle' && Array.isArray(node.entry)) {
    return node.entry.map((e: unknown) => (isRecord(e) ? e.resource : undefined));
  }
  return [node];
}

function step(nodes: unknown[], segment: string): unknown[] {
  const call = /^([A-Za-z]+)\((.*)\)$/.exec(segment);
  if (call) {
    const [, fn, arg] = call;
    if (fn === 'ofType') {
      return nodes.filter((n) => isRecord(n) && n.resourceType === arg?.trim());
    }
    if (fn === 'resolve') {
      return nodes
        .map((n) => parseReference(typeof n === 'string' ? n : isRecord(n) && typeof n.reference === 'string' ? n.reference : undefined))
        .filter((r): r is ParsedReference => r !== undefined);
    }
    throw new Error(`Unsupported prefetch token function ${fn}()`);
  }
  // CRD 2.0.1: `context.draftOrders.MedicationRequest` selects the resources of that type.
  if (/^[A-Z]/.test(segment)) {
    return flatten(nodes.flatMap(resourcesOf)).filter((n) => isRecord(n) && n.resourceType === segment);
  }
  return flatten(nodes.map((n) => (isRecord(n) ? n[segment] : undefined)));
}

function evaluatePath(path: string, scope: TokenScope): string[] {
  const segments = splitTopLevel(path, '.');
  const head = segments.shift();
  let nodes: unknown[];
  if (head === 'context') nodes = [scope.context];
  else if (head?.startsWith('%')) nodes = [scope.prefetched[head.slice(1)] ?? undefined];
  else throw new Error(`Unsupported prefetch token root "${head}"`);
  nodes = flatten(nodes);
  for (const segment of segments) nodes = step(nodes, segment);
  return nodes.filter((n): n is string | number => typeof n === 'string' || typeof n === 'number').map(String);
}

function userToken(name: string, context: Record<string, unknown>): string[] {
  const types: Record<string, string> = {
    userPractitionerId: 'Practitioner',
    userPractitionerRoleId: 'PractitionerRole',
    userPatientId: 'Patient',
    userRelatedPersonId: 'RelatedPerson',
  };
  const type = types[name];
  if (!type) throw new Error(`Unsupported prefetch token "${name}"`);
  const user = parseReference(typeof context.userId === 'string' ? context.userId : undefined);
  return user?.resourceType === type ? [user.id] : [];
}

/** Values of one token (without braces), deduplicated in first-seen order. */
export function evaluateToken(token: string, scope: TokenScope): string[] {
  const values = splitTopLevel(token.trim(), '|').flatMap((path) =>
    path.startsWith('context') || path.startsWith('%') ? evaluatePath(path, scope) : userToken(path, scope.context),
  );
  return [...new Set(values)];
}

/**
 * The query for a template, or `null` when a token has no value (e.g. the order's requester is a
 * Practitioner, so there is no PractitionerRole to read): then the key needs no data.
 * Values that are references (`context.userId`) keep their `Type/id` form; every value is
 * URL-encoded, and values of `_id` searches must be FHIR ids, so a request cannot smuggle in
 * extra query parameters.
 */
export function substituteTokens(template: string, scope: TokenScope): string | null {
  let empty = false;
  const url = template.replace(/\{\{([^}]+)\}\}/g, (_whole, token: string) => {
    const values = evaluateToken(token, scope);
    if (values.length === 0) {
      empty = true;
      return '';
    }
    return values.map((v) => v.split('/').map(encodeURIComponent).join('/')).join(',');
  });
  if (empty) return null;
  const idParam = /[?&]_id=([^&]*)/.exec(url);
  if (idParam?.[1] !== undefined && !idParam[1].split(',').every((id) => FHIR_ID.test(decodeURIComponent(id)))) return null;
  return url;
}

/** `%key` references a template makes to other prefetch keys (evaluated after them). */
export function templateDependencies(template: string): string[] {
  const tokens = [...template.matchAll(/\{\{([^}]+)\}\}/g)].map((m) => m[1] as string);
  return [...new Set(tokens.flatMap((t) => [...t.matchAll(/%([A-Za-z][A-Za-z0-9_-]*)/g)].map((m) => m[1] as string)))];
}

/**
 * The chart gatherer's queries (src/fhir/chart.ts) from prefetch templates: each key's template
 * with its tokens filled from `context` and the earlier keys. A cycle between templates would
 * wait forever, so it is refused.
 */
export function templateQueries(templates: Record<string, string>, context: Record<string, unknown>): ChartQueries {
  const done = new Set<string>();
  const visit = (key: string, path: string[]): void => {
    if (done.has(key)) return;
    if (path.includes(key)) throw new Error(`Prefetch templates depend on each other in a cycle: ${[...path, key].join(' -> ')}`);
    const template = templates[key];
    if (template !== undefined) for (const dep of templateDependencies(template)) visit(dep, [...path, key]);
    done.add(key);
  };
  for (const key of Object.keys(templates)) visit(key, []);
  return {
    keys: Object.keys(templates),
    dependsOn: (key) => (templates[key] === undefined ? [] : templateDependencies(templates[key])),
    url: (key, earlier) => (templates[key] === undefined ? undefined : substituteTokens(templates[key], { context, prefetched: earlier })),
  };
}
