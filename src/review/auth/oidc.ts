/**
 * Reviewer sign-in at the payer's OpenID Connect provider with `openid-client` (v6): authorization
 * code flow with PKCE (S256), `state` and `nonce`, a confidential client (client_secret_basic).
 * The provider's metadata is discovered at the first sign-in and kept; a failed discovery is
 * tried again on the next one. The reviewer role comes from one configured claim of the ID token
 * (or of the userinfo answer when the ID token lacks it), mapped by REVIEW_OIDC_ROLE_MAP.
 *
 * Supports: query response mode, RFC 9207 `iss` in the callback, RP-initiated logout when the
 * provider advertises `end_session_endpoint`. Does not support: back-channel logout, refresh
 * tokens (a session ends at its own expiry; the reviewer signs in again).
 */
import * as client from 'openid-client';
import type { ReviewOidcConfig } from '../../config';
import type { ReviewLoginRecord } from '../../store';
import { highestRole, isReviewerRole, type ReviewerRole } from '../roles';

/** How long a started sign-in may take at the provider. */
export const LOGIN_TTL_SECONDS = 600;

export interface SignedInUser {
  issuer: string;
  subject: string;
  name: string;
  /** Undefined when none of the user's claim values maps to a reviewer role. */
  role: ReviewerRole | undefined;
}

/** The value at a dotted claim path (`realm_access.roles`). */
function claimAt(claims: Record<string, unknown>, path: string): unknown {
  let value: unknown = claims;
  for (const key of path.split('.')) {
    if (!value || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** The reviewer role a user's claims give: each value of the role claim (array, or space/comma separated) through the map, the most senior kept. */
export function roleFromClaims(claims: Record<string, unknown>, settings: Pick<ReviewOidcConfig, 'roleClaim' | 'roleMap'>): ReviewerRole | undefined {
  const raw = claimAt(claims, settings.roleClaim);
  const values = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/[\s,]+/) : [];
  const roles = values.map((v) => (typeof v === 'string' ? settings.roleMap[v] : undefined)).filter(isReviewerRole);
  return highestRole(roles);
}

export class OidcSignIn {
  private configuration: Promise<client.Configuration> | undefined;

  constructor(
    private readonly settings: ReviewOidcConfig,
    /** Plain-http provider allowed (development and tests only; production requires https). */
    private readonly allowHttp: boolean,
  ) {}

  private config(): Promise<client.Configuration> {
    this.configuration ??= client
      .discovery(new URL(this.settings.issuer), this.settings.clientId, this.settings.clientSecret, undefined, {
        ...(this.allowHttp ? { execute: [client.allowInsecureRequests] } : {}),
        timeout: 10,
      })
      .catch((error: unknown) => {
        this.configuration = undefined;
        throw error;
      });
    return this.configuration;
  }

  /** The provider's authorization URL and what the callback must check, kept in the store. */
  async start(returnTo: string, now: Date): Promise<{ url: URL; login: ReviewLoginRecord }> {
    const config = await this.config();
    const codeVerifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.settings.redirectUrl,
      scope: this.settings.scope,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url, login: { state, nonce, codeVerifier, returnTo, expiresAt: new Date(now.getTime() + LOGIN_TTL_SECONDS * 1000) } };
  }

  /**
   * Redeems the callback's code (the query as received) and verifies the ID token: signature,
   * issuer, audience, expiry, nonce; `state` and PKCE are checked by the library too.
   */
  async finish(query: URLSearchParams, login: ReviewLoginRecord): Promise<SignedInUser> {
    const config = await this.config();
    // The registered redirect URL, not the URL this instance saw: behind a proxy they differ.
    const current = new URL(this.settings.redirectUrl);
    for (const [key, value] of query) current.searchParams.append(key, value);
    const tokens = await client.authorizationCodeGrant(config, current, {
      pkceCodeVerifier: login.codeVerifier,
      expectedState: login.state,
      expectedNonce: login.nonce,
      idTokenExpected: true,
    });
    const idClaims = tokens.claims();
    if (!idClaims) throw new Error('the provider sent no ID token');
    let claims: Record<string, unknown> = idClaims;
    if (claimAt(claims, this.settings.roleClaim) === undefined && config.serverMetadata().userinfo_endpoint) {
      // Many providers put group or role claims in userinfo only.
      const info = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub);
      claims = { ...info, ...idClaims };
    }
    const text = (key: string) => (typeof claims[key] === 'string' && (claims[key] as string).trim() !== '' ? (claims[key] as string).trim() : undefined);
    return {
      issuer: idClaims.iss,
      subject: idClaims.sub,
      name: text('name') ?? text('preferred_username') ?? text('email') ?? idClaims.sub,
      role: roleFromClaims(claims, this.settings),
    };
  }

  /** Where the browser ends the provider's session too, or undefined when the provider offers no logout. */
  async logoutUrl(postLogoutRedirect: string): Promise<string | undefined> {
    const config = await this.config().catch(() => undefined);
    if (!config?.serverMetadata().end_session_endpoint) return undefined;
    return client.buildEndSessionUrl(config, { client_id: this.settings.clientId, post_logout_redirect_uri: postLogoutRedirect }).href;
  }
}
