/**
 * Token exchange for the payer's own DTR SMART app (RFC 8693, at the SMART token endpoint).
 *
 * The app is a public browser client registered at the EHR: it holds an EHR access token from the
 * SMART launch and no secret of the payer's, so it cannot use Backend Services. DTR 2.0.1 leaves how
 * a DTR app authenticates to the payer to HRex/SMART; this server is the app's own backend, so the
 * app trades its EHR launch for a short payer token:
 *
 *   grant_type=urn:ietf:params:oauth:grant-type:token-exchange
 *   subject_token=<the EHR access token>  subject_token_type=urn:ietf:params:oauth:token-type:access_token
 *   subject_issuer=<the EHR's FHIR base, the launch `iss`>  client_id=<the app's id at that EHR>  [scope]
 *
 * The EHR must be listed in DTR_EHRS; anything else is refused before any connection is made. The
 * token is checked with that EHR's token introspection endpoint (RFC 7662; SMART App Launch 2.0
 * "Token Introspection"): it must be active, issued to the DTR app, unexpired and carry a patient
 * launch context. The payer token then lives at most as long as the EHR token and `ACCESS_TOKEN_TTL_SECONDS`,
 * carries only the DTR operations and Claim/$submit (or less), and submits for the organization
 * configured for that EHR. The tokens themselves are issued by src/auth/smart.ts like every other.
 *
 * The EHR token is used only for the introspection call and is never stored or logged.
 */
import type { Config, DtrEhrConfig } from '../config';
import { OAuthError } from './smart';
import { grantScopes } from './scopes';

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
/** What the DTR app needs on /fhir: the package, value set expansion, $populate/$next-question, error log, $submit. */
export const DTR_EXCHANGE_SCOPE = 'system/Questionnaire.r system/ValueSet.r system/QuestionnaireResponse.c system/Claim.c';
const INTROSPECTION_TIMEOUT_MS = 5000;

/** The caller an exchanged token stands for (what `authenticate` returns for it). */
export interface ExchangePrincipal {
  organization: { system: string; value: string };
  fhirServers: string[];
}

export interface ExchangeGrant {
  clientId: string;
  scope: string;
  expiresAt: Date;
}

export interface TokenExchange {
  exchange(form: Record<string, unknown>, now: Date): Promise<ExchangeGrant>;
  principal(clientId: string): ExchangePrincipal | undefined;
}

interface Introspection {
  active?: unknown;
  client_id?: unknown;
  exp?: unknown;
  patient?: unknown;
}

const normalize = (url: string) => url.trim().replace(/\/+$/, '');

/** The id an exchanged token is saved under: the app at one EHR (audit actor, rate limits). */
export const exchangeClientId = (ehr: Pick<DtrEhrConfig, 'issuer'>, appClientId: string): string => `${appClientId}@${ehr.issuer}`;

export function createTokenExchange(
  config: Pick<Config, 'dtrEhrs' | 'dtrAppClientId' | 'accessTokenTtlSeconds'>,
  fetchImpl: typeof fetch = fetch,
): TokenExchange | null {
  if (config.dtrEhrs.length === 0) return null;
  const byIssuer = new Map(config.dtrEhrs.map((ehr) => [normalize(ehr.issuer), ehr]));
  const principals = new Map<string, ExchangePrincipal>(
    config.dtrEhrs.map((ehr) => [exchangeClientId(ehr, ehr.appClientId ?? config.dtrAppClientId), { organization: ehr.organization, fhirServers: [ehr.issuer] }]),
  );

  async function introspect(ehr: DtrEhrConfig, token: string): Promise<Introspection> {
    let response: Response;
    try {
      response = await fetchImpl(ehr.introspectionUrl, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json',
          Authorization: `Basic ${Buffer.from(`${encodeURIComponent(ehr.introspectionClientId)}:${encodeURIComponent(ehr.introspectionClientSecret)}`).toString('base64')}`,
        },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        redirect: 'error',
        signal: AbortSignal.timeout(INTROSPECTION_TIMEOUT_MS),
      });
    } catch {
      throw new OAuthError(503, 'temporarily_unavailable', `the EHR's token introspection endpoint could not be reached; try again`);
    }
    if (!response.ok) throw new OAuthError(503, 'temporarily_unavailable', `the EHR's token introspection endpoint answered HTTP ${response.status}; try again`);
    try {
      const body: unknown = await response.json();
      if (typeof body !== 'object' || body === null) throw new Error('not an object');
      return body as Introspection;
    } catch {
      throw new OAuthError(503, 'temporarily_unavailable', `the EHR's token introspection answer is not JSON`);
    }
  }

  async function exchange(form: Record<string, unknown>, now: Date): Promise<ExchangeGrant> {
    const field = (name: string) => (typeof form[name] === 'string' && form[name] !== '' ? (form[name] as string) : undefined);
    const subjectToken = field('subject_token');
    if (!subjectToken) throw new OAuthError(400, 'invalid_request', 'subject_token (the EHR access token of the DTR app launch) is required');
    if (field('subject_token_type') !== ACCESS_TOKEN_TYPE) throw new OAuthError(400, 'invalid_request', `subject_token_type must be ${ACCESS_TOKEN_TYPE}`);
    const requestedType = field('requested_token_type');
    if (requestedType && requestedType !== ACCESS_TOKEN_TYPE) throw new OAuthError(400, 'invalid_request', `requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
    const issuer = field('subject_issuer');
    if (!issuer) throw new OAuthError(400, 'invalid_request', "subject_issuer (the EHR's FHIR base URL, the launch iss) is required");
    const ehr = byIssuer.get(normalize(issuer));
    if (!ehr) throw new OAuthError(400, 'invalid_grant', `the EHR ${normalize(issuer)} is not configured for the DTR app on this payer (DTR_EHRS)`);
    const appClientId = ehr.appClientId ?? config.dtrAppClientId;
    const clientId = field('client_id');
    if (clientId && clientId !== appClientId) throw new OAuthError(401, 'invalid_client', `token exchange is offered to the DTR app (${appClientId}) only`);
    const ceiling = ehr.scope ?? DTR_EXCHANGE_SCOPE;
    const granted = grantScopes(field('scope') ?? ceiling, ceiling);
    if (granted.length === 0) throw new OAuthError(400, 'invalid_scope', `none of the requested scopes is allowed for the DTR app; it may have ${ceiling}`);

    const answer = await introspect(ehr, subjectToken);
    const nowSeconds = Math.floor(now.getTime() / 1000);
    if (answer.active !== true) throw new OAuthError(400, 'invalid_grant', 'the EHR says the access token is not active (expired, revoked or not its own)');
    if (answer.client_id !== appClientId) throw new OAuthError(400, 'invalid_grant', `the EHR access token was issued to another app, not to the DTR app (${appClientId})`);
    if (typeof answer.exp !== 'number' || answer.exp <= nowSeconds) throw new OAuthError(400, 'invalid_grant', 'the EHR access token has expired');
    if (typeof answer.patient !== 'string' || answer.patient === '') throw new OAuthError(400, 'invalid_grant', 'the EHR access token carries no patient launch context');

    const expiresAt = new Date(Math.min(now.getTime() + config.accessTokenTtlSeconds * 1000, answer.exp * 1000));
    return { clientId: exchangeClientId(ehr, appClientId), scope: granted.join(' '), expiresAt };
  }

  return { exchange, principal: (clientId) => principals.get(clientId) };
}
