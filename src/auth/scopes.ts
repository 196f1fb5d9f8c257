/**
 * SMART scopes for system clients (SMART App Launch 2.0 §Scopes, Backend Services): v2
 * `system/<Type|*>.<cruds subset>` and the v1 forms `.read` (= rs), `.write` (= cud), `.*` (= cruds).
 * Query-qualified scopes (`system/Observation.rs?category=...`) and other contexts (patient/, user/)
 * are not supported here: they are dropped when requested.
 *
 * What each /fhir interaction needs is `requiredScope`: the one table of the server's scope rules.
 */
const SCOPE = /^system\/(\*|[A-Z][A-Za-z]+)\.(\*|read|write|c?r?u?d?s?)$/;

export type Permission = 'c' | 'r' | 'u' | 'd' | 's';

export interface Scope {
  type: string;
  permissions: Set<Permission>;
}

export function parseScope(text: string): Scope | null {
  const match = SCOPE.exec(text);
  if (!match || match[2] === '') return null;
  const perms = match[2]!;
  const letters = perms === '*' ? 'cruds' : perms === 'read' ? 'rs' : perms === 'write' ? 'cud' : perms;
  return { type: match[1]!, permissions: new Set(letters.split('') as Permission[]) };
}

export function parseScopes(text: string): Scope[] {
  return text
    .split(/\s+/)
    .filter(Boolean)
    .map(parseScope)
    .filter((s): s is Scope => s !== null);
}

/** True when one of `granted` allows `permission` on `type`. */
export function allows(granted: readonly Scope[], type: string, permission: Permission): boolean {
  return granted.some((s) => (s.type === '*' || s.type === type) && s.permissions.has(permission));
}

/**
 * The requested scopes the client may have: each kept only when everything it covers is within
 * the client's configured scope. Unknown or unsupported scopes are dropped.
 */
export function grantScopes(requested: string, allowed: string): string[] {
  const ceiling = parseScopes(allowed);
  const granted: string[] = [];
  for (const text of new Set(requested.split(/\s+/).filter(Boolean))) {
    const scope = parseScope(text);
    if (!scope) continue;
    const within = [...scope.permissions].every((p) =>
      ceiling.some((c) => (c.type === '*' || c.type === scope.type) && c.permissions.has(p)),
    );
    if (within) granted.push(text);
  }
  return granted;
}

/** A need: any one of these (type, permission) pairs is enough. */
export type Requirement = Array<{ type: string; permission: Permission }>;

/** Types whose operations run on the DTR side: their SDC operations answer with a QuestionnaireResponse. */
const RESPONSE_OPERATIONS = new Set(['$populate', '$next-question']);

/**
 * The scope a /fhir interaction needs, from its method and path (after `/fhir`), or null when
 * it needs none (metadata, discovery).
 * - `POST Claim/$submit` → Claim.c; `POST Claim/$inquire` → Claim.s or Claim.r (PAS 2.2.1);
 * - `POST Questionnaire/$questionnaire-package` → Questionnaire.r (it returns the published forms);
 * - `$populate`, `$next-question` → QuestionnaireResponse.c (they build a QuestionnaireResponse for
 *   the caller; nothing is stored);
 * - `ValueSet/$expand` (GET or POST) → ValueSet.r; `Questionnaire/$log-questionnaire-errors` → Questionnaire.r;
 * - REST: read and `_history` → .r, search → .s, create → .c, update/patch → .u, delete → .d.
 */
export function requiredScope(method: string, path: string): Requirement | null {
  const segments = path.split('/').filter(Boolean);
  if (segments.length === 0 || segments[0] === 'metadata' || segments[0] === '.well-known') return null;
  const type = segments[0]!;
  const operation = segments.find((s) => s.startsWith('$'));
  const one = (t: string, permission: Permission): Requirement => [{ type: t, permission }];
  if (operation) {
    if (type === 'Claim' && operation === '$submit') return one('Claim', 'c');
    if (type === 'Claim' && operation === '$inquire') return [{ type: 'Claim', permission: 's' }, { type: 'Claim', permission: 'r' }];
    if (RESPONSE_OPERATIONS.has(operation)) return one('QuestionnaireResponse', 'c');
    if (operation === '$questionnaire-package') return one('Questionnaire', 'r');
    // A DTR app reporting on a form it read; $expand reads by GET or POST alike.
    if (operation === '$log-questionnaire-errors') return one('Questionnaire', 'r');
    if (operation === '$expand') return one('ValueSet', 'r');
    return one(type.startsWith('$') ? '*' : type, method === 'GET' ? 'r' : 'c');
  }
  const id = segments[1];
  switch (method) {
    case 'GET':
    case 'HEAD':
      return one(type, id === undefined || id === '_search' ? 's' : 'r');
    case 'POST':
      return one(type, id === '_search' ? 's' : 'c');
    case 'PUT':
    case 'PATCH':
      return one(type, 'u');
    case 'DELETE':
      return one(type, 'd');
    default:
      return one(type, 'r');
  }
}

export function describe(requirement: Requirement): string {
  return requirement.map((r) => `system/${r.type}.${r.permission}`).join(' or ');
}
