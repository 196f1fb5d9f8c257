/**
 * SMART Backend Services (SMART App Launch 2.0, "Backend Services"; HRex and PAS recommend it
 * between provider and payer systems): discovery, the token endpoint, and the bearer check on /fhir.
 * http://hl7.org/fhir/smart-app-launch/backend-services.html
 *
 * Token endpoint: `grant_type=client_credentials`, `scope`, `client_assertion_type` =
 * `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and `client_assertion`, a JWT signed
 * RS384 or ES384 with one of the client's registered keys; `iss` = `sub` = client id, `aud` = the
 * token endpoint URL, `exp` at most 5 minutes ahead, `jti` never seen before (kept in the store, so
 * a replay to another instance on the same database is refused too).
 *
 * Access tokens are opaque random strings, stored only as their SHA-256: any instance on the same
 * database accepts a token another issued, there is no signing key to distribute or rotate, and a
 * token can be revoked by deleting its row. The cost is one indexed lookup per request.
 *
 * Never logs or echoes a token or assertion.
 */
import crypto from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { Config, SmartClientConfig } from '../config';
import type { Store } from '../store';
import { forbidden, unauthorized, type OperationOutcomeError } from '../fhir/outcomes';
import { allows, describe, grantScopes, parseScopes, requiredScope, type Scope } from './scopes';
import { joseReason, pinKeys } from './keys';
import { ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, type TokenExchange } from './token-exchange';

export const TOKEN_PATH = '/auth/token';
export const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const ASSERTION_ALGORITHMS = ['RS384', 'ES384'] as const;
/** Backend Services: the assertion's `exp` is no more than five minutes in the future. */
const MAX_ASSERTION_SECONDS = 300;
const CLOCK_TOLERANCE_SECONDS = 30;

/** Who called, for downstream code (`res.locals.client`): isolation, rate limits, audit. */
export interface AuthenticatedClient {
  clientId: string;
  organization: { system: string; value: string };
  scopes: string[];
  /** FHIR servers this client's `$populate` / `$next-question` may have the server read. */
  fhirServers: string[];
}

/** An OAuth 2.0 error answer (RFC 6749 §5.2). */
export class OAuthError extends Error {
  constructor(
    readonly status: 400 | 401 | 503,
    readonly error: 'invalid_request' | 'invalid_client' | 'invalid_grant' | 'unsupported_grant_type' | 'invalid_scope' | 'temporarily_unavailable',
    readonly description: string,
  ) {
    super(description);
    this.name = 'OAuthError';
  }
}

export interface TokenResponse {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  scope: string;
  /** Token exchange answers (RFC 8693 §2.2.1). */
  issued_token_type?: string;
}

export interface SmartAuth {
  /** True when SMART_CLIENTS is configured: /fhir then needs a token. */
  readonly enabled: boolean;
  readonly tokenUrl: string;
  discovery(): Record<string, unknown>;
  /** The token endpoint; throws `OAuthError`. */
  token(form: Record<string, unknown>): Promise<TokenResponse>;
  /**
   * Checks the bearer token of a /fhir request against what the interaction needs. Null when the
   * request needs none (metadata, discovery). Throws a 401 (with `wwwAuthenticate`) or a 403.
   */
  authenticate(method: string, fhirPath: string, authorization: string | undefined): Promise<AuthenticatedClient | null>;
}

interface RegisteredClient {
  config: SmartClientConfig;
  keys: JWTVerifyGetKey;
}

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token).digest('hex');
}

/** The 401 a /fhir caller gets, with the RFC 6750 challenge. */
export function bearerChallenge(text: string, error?: 'invalid_token'): OperationOutcomeError & { wwwAuthenticate: string } {
  const answer = unauthorized(text) as OperationOutcomeError & { wwwAuthenticate: string };
  answer.wwwAuthenticate = `Bearer realm="fhir"${error ? `, error="${error}", error_description="${text.replace(/"/g, "'")}"` : ''}`;
  return answer;
}

function assertionReason(error: unknown): string {
  return joseReason(error, 'client assertion', {
    aud: 'client assertion "aud" must be the token endpoint URL',
    sub: 'client assertion "sub" must equal its "iss" (the client id)',
  });
}

/** `exchange`: the DTR app's token exchange (src/auth/token-exchange.ts), when DTR_EHRS is configured. */
export function createSmartAuth(
  config: Pick<Config, 'publicBaseUrl' | 'smartClients' | 'accessTokenTtlSeconds'>,
  store: Store,
  clock: () => Date,
  exchange: TokenExchange | null = null,
): SmartAuth {
  const tokenUrl = `${config.publicBaseUrl}${TOKEN_PATH}`;
  const clients = new Map<string, RegisteredClient>();
  for (const client of config.smartClients) clients.set(client.clientId, { config: client, keys: pinKeys(client, `SMART client ${client.clientId}`).keys });
  const supportedScopes = [...new Set(config.smartClients.flatMap((c) => c.scope.split(/\s+/)))].sort();

  function discovery(): Record<string, unknown> {
    return {
      issuer: config.publicBaseUrl,
      token_endpoint: tokenUrl,
      grant_types_supported: exchange ? ['client_credentials', TOKEN_EXCHANGE_GRANT] : ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_ALGORITHMS],
      scopes_supported: supportedScopes,
      capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
    };
  }

  async function issue(clientId: string, scope: string, expiresAt: Date, now: Date): Promise<TokenResponse> {
    const accessToken = crypto.randomBytes(32).toString('base64url');
    await store.saveAccessToken(hashToken(accessToken), { clientId, scope, expiresAt }, now);
    return { access_token: accessToken, token_type: 'bearer', expires_in: Math.max(1, Math.floor((expiresAt.getTime() - now.getTime()) / 1000)), scope };
  }

  async function token(form: Record<string, unknown>): Promise<TokenResponse> {
    const field = (name: string) => (typeof form[name] === 'string' ? (form[name] as string) : undefined);
    if (exchange && field('grant_type') === TOKEN_EXCHANGE_GRANT) {
      const now = clock();
      const grant = await exchange.exchange(form, now);
      // RFC 8693 §2.2.1: the answer names the issued token's type.
      return { ...(await issue(grant.clientId, grant.scope, grant.expiresAt, now)), issued_token_type: ACCESS_TOKEN_TYPE };
    }
    if (field('grant_type') !== 'client_credentials') throw new OAuthError(400, 'unsupported_grant_type', `grant_type must be client_credentials${exchange ? ` or ${TOKEN_EXCHANGE_GRANT}` : ''}`);
    if (field('client_assertion_type') !== ASSERTION_TYPE) throw new OAuthError(400, 'invalid_request', `client_assertion_type must be ${ASSERTION_TYPE}`);
    const assertion = field('client_assertion');
    if (!assertion) throw new OAuthError(400, 'invalid_request', 'client_assertion is required');
    const requested = field('scope');
    if (!requested) throw new OAuthError(400, 'invalid_request', 'scope is required');

    let iss: unknown;
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(assertion).alg;
      iss = decodeJwt(assertion).iss;
    } catch {
      throw new OAuthError(400, 'invalid_request', 'client_assertion is not a JWT');
    }
    if (!ASSERTION_ALGORITHMS.includes(alg as (typeof ASSERTION_ALGORITHMS)[number])) {
      throw new OAuthError(401, 'invalid_client', `client assertion must be signed ${ASSERTION_ALGORITHMS.join(' or ')}`);
    }
    const client = typeof iss === 'string' ? clients.get(iss) : undefined;
    if (!client) throw new OAuthError(401, 'invalid_client', 'unknown client');
    const now = clock();
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, client.keys, {
        algorithms: [...ASSERTION_ALGORITHMS],
        issuer: client.config.clientId,
        subject: client.config.clientId,
        audience: tokenUrl,
        requiredClaims: ['iss', 'sub', 'aud', 'exp', 'jti'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        currentDate: now,
      }));
    } catch (error) {
      throw new OAuthError(401, 'invalid_client', assertionReason(error));
    }
    const nowSeconds = Math.floor(now.getTime() / 1000);
    if (payload.exp! > nowSeconds + MAX_ASSERTION_SECONDS + CLOCK_TOLERANCE_SECONDS) {
      throw new OAuthError(401, 'invalid_client', 'client assertion "exp" is more than 5 minutes ahead');
    }
    if (typeof payload.jti !== 'string' || payload.jti === '') throw new OAuthError(401, 'invalid_client', 'client assertion "jti" is required');
    const fresh = await store.rememberJti(`smart|${client.config.clientId}|${payload.jti}`, new Date((payload.exp! + CLOCK_TOLERANCE_SECONDS) * 1000), now);
    if (!fresh) throw new OAuthError(401, 'invalid_client', 'client assertion has already been used (jti replay)');

    const granted = grantScopes(requested, client.config.scope);
    if (granted.length === 0) throw new OAuthError(400, 'invalid_scope', 'none of the requested scopes is allowed for this client');
    return issue(client.config.clientId, granted.join(' '), new Date(now.getTime() + config.accessTokenTtlSeconds * 1000), now);
  }

  async function authenticate(method: string, fhirPath: string, authorization: string | undefined): Promise<AuthenticatedClient | null> {
    const need = requiredScope(method, fhirPath);
    if (!need) return null;
    const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i.exec(authorization?.trim() ?? '');
    if (!match) throw bearerChallenge(`This server needs "Authorization: Bearer <access token>" from ${tokenUrl} (SMART Backend Services).`);
    const record = await store.findAccessToken(hashToken(match[1]!), clock());
    const client = record ? (clients.get(record.clientId)?.config ?? exchange?.principal(record.clientId)) : undefined;
    if (!record || !client) throw bearerChallenge('The access token is unknown or has expired.', 'invalid_token');
    const scopes: Scope[] = parseScopes(record.scope);
    if (!need.some((n) => allows(scopes, n.type, n.permission))) {
      throw forbidden(`The access token's scope does not allow this request; it needs ${describe(need)}.`);
    }
    return {
      clientId: record.clientId,
      organization: client.organization,
      scopes: record.scope.split(' '),
      fhirServers: client.fhirServers ?? [],
    };
  }

  return { enabled: clients.size > 0, tokenUrl, discovery, token, authenticate };
}
