/**
 * Reads, searches and `$expand` over the published artifacts (Questionnaire, Library, ValueSet).
 * Each handler returns `{ status, body }` and throws an `OperationOutcomeError` (404 / 400 / 422)
 * that the HTTP layer turns into an OperationOutcome.
 *
 * - read: `GET /fhir/{Questionnaire|Library|ValueSet}/:id` (Library also by its CQL name).
 *   https://hl7.org/fhir/R4/http.html#read
 * - search: `GET /fhir/{type}?url=...` — supports `url` (also `url|version`), `version`, `name`, `_id`;
 *   other parameters are ignored and reported in an OperationOutcome entry (search.mode outcome).
 *   https://hl7.org/fhir/R4/search.html
 * - `GET /fhir/ValueSet/$expand?url=` and `GET /fhir/ValueSet/:id/$expand`: supports `url`,
 *   `valueSetVersion`, `filter` (case-insensitive match on code or display), `offset`, `count`.
 *   Expansions come from the repository (stored, or computed from an enumerated compose); no
 *   terminology server. https://hl7.org/fhir/R4/valueset-operation-expand.html
 */
import type { Bundle, BundleEntry, OperationOutcomeIssue, ValueSet } from 'fhir/r4';
import { badRequest, notFound, outcome, unprocessable, warning } from '../fhir/outcomes';
import type { Artifact, ArtifactRepository, ArtifactType } from './artifacts';
import { OPERATION_DEFINITIONS } from '../fhir/operation-definitions';
import { operationRules, readParameters } from '../fhir/parameters';

export type Query = Record<string, string | string[] | undefined>;

export interface HandlerResult<T> {
  status: number;
  body: T;
}

const TYPES: readonly ArtifactType[] = ['Questionnaire', 'Library', 'ValueSet'];
const SEARCH_PARAMS = new Set(['url', 'version', 'name', '_id']);
/** Parameters about the response format, not the result set. */
const IGNORED_QUIETLY = new Set(['_format', '_pretty', '_summary', '_elements', '_count']);

function artifactType(type: string): ArtifactType {
  if (!(TYPES as readonly string[]).includes(type)) throw notFound(`This server publishes no ${type} resources`);
  return type as ArtifactType;
}

function single(query: Query, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) {
    if (value.length > 1) throw badRequest(`parameter ${name} may appear only once`, name);
    return value[0];
  }
  return value;
}

export function readArtifact(artifacts: ArtifactRepository, type: string, id: string): HandlerResult<Artifact> {
  const resource = artifacts.byId(artifactType(type), id);
  if (!resource) throw notFound(`${type}/${id} is not known`);
  return { status: 200, body: resource };
}

/**
 * @param baseUrl the public base of this server's FHIR endpoint (for `fullUrl` and the self link);
 *   defaults to the canonical base.
 */
export function searchArtifacts(artifacts: ArtifactRepository, type: string, query: Query, baseUrl = artifacts.canonicalBase): HandlerResult<Bundle> {
  const resourceType = artifactType(type);
  const criteria: { url?: string; version?: string; name?: string } = {};
  const url = single(query, 'url');
  const version = single(query, 'version');
  const name = single(query, 'name');
  const id = single(query, '_id');
  if (url !== undefined) criteria.url = url;
  if (version !== undefined) criteria.version = version;
  if (name !== undefined) criteria.name = name;
  const matches = artifacts.search(resourceType, criteria).filter((r) => id === undefined || r.id === id);

  const issues: OperationOutcomeIssue[] = Object.keys(query)
    .filter((key) => !SEARCH_PARAMS.has(key) && !IGNORED_QUIETLY.has(key))
    .map((key) => warning('not-supported', `search parameter ${key} is not supported and was ignored`, key));
  const used = [...SEARCH_PARAMS].filter((p) => single(query, p) !== undefined);
  const self = `${baseUrl}/${resourceType}${used.length ? `?${used.map((p) => `${p}=${encodeURIComponent(single(query, p)!)}`).join('&')}` : ''}`;
  const entry: BundleEntry[] = matches.map((resource) => ({
    fullUrl: `${baseUrl}/${resourceType}/${resource.id}`,
    resource,
    search: { mode: 'match' },
  }));
  if (issues.length > 0) entry.push({ resource: outcome(issues), search: { mode: 'outcome' } });
  return {
    status: 200,
    body: { resourceType: 'Bundle', type: 'searchset', total: matches.length, link: [{ relation: 'self', url: self }], entry },
  };
}

function nonNegativeInteger(query: Query, name: string): number | undefined {
  const raw = single(query, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw)) throw badRequest(`${name} must be a non-negative integer`, name);
  return Number(raw);
}

/** Each value as GET takes it, in any of the types a client may send a string or a number in. */
const EXPAND_VALUE_TYPES = ['uri', 'url', 'canonical', 'string', 'integer', 'code'];
const EXPAND_RULES = operationRules(OPERATION_DEFINITIONS.expand, {
  change: Object.fromEntries(['url', 'valueSetVersion', 'filter', 'offset', 'count'].map((name) => [name, { alsoTypes: EXPAND_VALUE_TYPES }])),
});

/**
 * `POST ValueSet/$expand`: the Parameters body as the query `GET` takes (FHIR R4 operations:
 * "the parameters may be in the body as a Parameters resource"). Supports url, valueSetVersion,
 * filter, offset and count; a `valueSet` resource in the body is not supported (400).
 */
export function expandQueryFromParameters(body: unknown): Query {
  const query: Query = {};
  for (const p of readParameters(body, EXPAND_RULES).list) {
    if (p.name === 'valueSet') throw badRequest('$expand of a ValueSet given in the body is not supported; name it by url', p.expression, 'not-supported');
    query[p.name] = String(p.value);
  }
  return query;
}

/** `$expand` by `url` (query) or by id (`/ValueSet/:id/$expand`). */
export function expandValueSetOperation(artifacts: ArtifactRepository, query: Query, id?: string): HandlerResult<ValueSet> {
  let canonical: string;
  if (id !== undefined) {
    const valueSet = artifacts.byId('ValueSet', id);
    if (!valueSet) throw notFound(`ValueSet/${id} is not known`);
    canonical = `${valueSet.url}|${valueSet.version ?? ''}`.replace(/\|$/, '');
  } else {
    const url = single(query, 'url');
    if (!url) throw badRequest('$expand needs the url of the ValueSet', 'url', 'required');
    const version = single(query, 'valueSetVersion');
    canonical = version && !url.includes('|') ? `${url}|${version}` : url;
  }
  const valueSet = artifacts.byCanonical('ValueSet', canonical);
  if (!valueSet) throw notFound(`ValueSet ${canonical} is not known`);
  const expanded = artifacts.expandValueSet(canonical);
  if (!expanded?.expansion) throw unprocessable(`ValueSet ${canonical} cannot be expanded without a terminology server`, 'url');

  const filter = single(query, 'filter')?.trim().toLowerCase();
  const offset = nonNegativeInteger(query, 'offset') ?? 0;
  const count = nonNegativeInteger(query, 'count');
  const all = expanded.expansion.contains ?? [];
  const matching = filter ? all.filter((c) => `${c.code ?? ''} ${c.display ?? ''}`.toLowerCase().includes(filter)) : all;
  if (!filter && offset === 0 && count === undefined) return { status: 200, body: expanded };
  const page = matching.slice(offset, count === undefined ? undefined : offset + count);
  const parameter = [
    ...(filter ? [{ name: 'filter', valueString: filter }] : []),
    { name: 'offset', valueInteger: offset },
    ...(count !== undefined ? [{ name: 'count', valueInteger: count }] : []),
  ];
  return {
    status: 200,
    body: {
      ...expanded,
      expansion: { ...expanded.expansion, total: matching.length, offset, parameter, contains: page },
    },
  };
}
