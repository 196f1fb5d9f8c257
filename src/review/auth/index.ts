/**
 * Who is acting on the review workbench and its API. Three ways in:
 * - a **session** after sign-in at the payer's OpenID provider (./oidc.ts): a random 256-bit id in
 *   an http-only, SameSite=Lax cookie (Secure, and `__Host-` prefixed, when the public base URL is
 *   https); the store keeps only its SHA-256, so any instance on the database knows the session and
 *   a database read gives no usable cookie. Sessions end after REVIEW_SESSION_IDLE_SECONDS unused
 *   and REVIEW_SESSION_MAX_SECONDS after sign-in, whichever comes first.
 *   Every state-changing request also sends `X-CSRF-Token`: a value derived from the session id
 *   (SHA-256 of a domain-separated string), which the page reads from `/review/api/session`;
 *   a cross-site page has the cookie sent (at most) but can neither read nor compute the token.
 * - an **API token** for automation (`Authorization: Bearer`), configured only as its SHA-256
 *   (REVIEW_API_TOKENS), compared in constant time. No CSRF token: a bearer token is not sent by
 *   browsers on their own.
 * - **open mode** (development): nothing configured for the review side nor for /fhir; the caller
 *   names the reviewer in the body, as before sign-in existed.
 * Identity and role never come from the request body once sign-in or tokens are configured.
 */
import crypto from 'node:crypto';
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import type { Config } from '../../config';
import { hashToken } from '../../auth/smart';
import { badRequest, forbidden, unauthorized, type OperationOutcomeError } from '../../fhir/outcomes';
import type { Store } from '../../store';
import { isReviewerRole } from '../roles';
import { reviewAccess } from '../access';
import type { Reviewer } from '../service';
import { OidcSignIn } from './oidc';

export const CSRF_HEADER = 'x-csrf-token';
const LOGIN_COOKIE = 'pa_review_login';

export type Headers = Record<string, string | string[] | undefined>;

/** The acting reviewer and the text the audit records for them. */
export interface ReviewerIdentity {
  reviewer: Reviewer;
  /** `medical-director:Dr. Ada Moss (oidc sub ada@https://idp)` or `committee:token nightly-batch`. */
  actor: string;
  via: 'session' | 'token';
}

export interface SessionView {
  identity: ReviewerIdentity;
  csrfToken: string;
}

function randomId(): string {
  return crypto.randomBytes(32).toString('base64url');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(hashToken(a), 'hex');
  const y = Buffer.from(hashToken(b), 'hex');
  return crypto.timingSafeEqual(x, y);
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A 401 for the review API, with a challenge naming both ways in. */
function signInNeeded(text: string, error?: 'invalid_token'): OperationOutcomeError & { wwwAuthenticate: string } {
  const answer = unauthorized(text) as OperationOutcomeError & { wwwAuthenticate: string };
  answer.wwwAuthenticate = `Bearer realm="review"${error ? `, error="${error}"` : ''}`;
  return answer;
}

/** Only paths of the workbench itself: never another site (open redirect) nor another part of this one. */
export function safeReturnTo(value: unknown): string {
  return typeof value === 'string' && /^\/review(?:[/?#]|$)/.test(value) && !value.includes('\\') && !/[\r\n]/.test(value) ? value : '/review';
}

export class ReviewerAuth {
  readonly mode: 'open' | 'closed' | 'protected';
  readonly signIn: OidcSignIn | undefined;
  private readonly secure: boolean;
  readonly sessionCookie: string;

  constructor(
    private readonly config: Pick<Config, 'publicBaseUrl' | 'production' | 'reviewAuth' | 'smartClients' | 'trustedIssuers'>,
    private readonly store: Store,
    private readonly clock: () => Date,
  ) {
    const { oidc } = config.reviewAuth;
    this.mode = reviewAccess(config);
    this.secure = config.publicBaseUrl.startsWith('https:');
    // `__Host-`: the browser refuses it unless Secure, host-only and Path=/.
    this.sessionCookie = this.secure ? '__Host-pa_review' : 'pa_review';
    this.signIn = oidc ? new OidcSignIn(oidc, !config.production) : undefined;
  }

  private cookie(name: string, value: string, maxAgeSeconds: number, path = '/'): string {
    return serializeCookie(name, value, { httpOnly: true, secure: this.secure, sameSite: 'lax', path, maxAge: maxAgeSeconds });
  }

  /** Starts a sign-in: the provider URL to send the browser to, and the cookie binding the callback to this browser. */
  async startSignIn(returnTo: unknown): Promise<{ location: string; setCookie: string }> {
    if (!this.signIn) throw new Error('reviewer sign-in is not configured');
    const now = this.clock();
    const { url, login } = await this.signIn.start(safeReturnTo(returnTo), now);
    const id = randomId();
    await this.store.saveReviewLogin(hashToken(id), login, now);
    const ttl = Math.round((login.expiresAt.getTime() - now.getTime()) / 1000);
    return { location: url.href, setCookie: this.cookie(LOGIN_COOKIE, id, ttl, '/review/callback') };
  }

  /**
   * Ends a sign-in at the callback: the sign-in this browser started (its cookie), `state` equal to
   * the one sent, then the code redeemed and the ID token verified. Throws 400 (no sign-in in
   * progress, wrong state), 401 (the provider refused or its answer failed verification), or 403
   * (signed in, but no reviewer role).
   */
  async finishSignIn(headers: Headers, query: URLSearchParams, log: (message: string, fields: Record<string, unknown>) => void): Promise<{ location: string; setCookie: string; identity: ReviewerIdentity }> {
    if (!this.signIn) throw new Error('reviewer sign-in is not configured');
    const now = this.clock();
    const loginId = parseCookies(header(headers, 'cookie') ?? '')[LOGIN_COOKIE];
    const login = loginId ? await this.store.takeReviewLogin(hashToken(loginId), now) : null;
    if (!login) throw badRequest('No sign-in is in progress in this browser, or it took too long; start again at /review/login.', 'cookie');
    const state = query.get('state');
    if (!state || !sameText(state, login.state)) throw badRequest('The callback "state" does not match the sign-in this browser started; start again at /review/login.', 'state');
    const providerError = query.get('error');
    if (providerError) throw unauthorized(`The sign-in provider refused the sign-in (${providerError.slice(0, 100)}).`);
    let user;
    try {
      user = await this.signIn.finish(query, login);
    } catch (error) {
      log('reviewer sign-in failed', { reason: error instanceof Error ? error.message : String(error) });
      throw unauthorized('The sign-in could not be verified with the provider; start again at /review/login.');
    }
    if (!user.role) {
      throw forbidden(`You are signed in as ${user.name}, but the provider gives you no reviewer role (claim "${this.config.reviewAuth.oidc?.roleClaim}"); ask an administrator for one.`);
    }
    const id = randomId();
    const { sessionMaxSeconds } = this.config.reviewAuth;
    await this.store.createReviewSession(hashToken(id), {
      issuer: user.issuer,
      subject: user.subject,
      name: user.name,
      role: user.role,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: new Date(now.getTime() + sessionMaxSeconds * 1000),
    });
    return {
      location: login.returnTo,
      setCookie: this.cookie(this.sessionCookie, id, sessionMaxSeconds),
      identity: sessionIdentity({ name: user.name, role: user.role, subject: user.subject, issuer: user.issuer }),
    };
  }

  private sessionId(headers: Headers): string | undefined {
    return parseCookies(header(headers, 'cookie') ?? '')[this.sessionCookie];
  }

  /** The signed-in session and its CSRF token, or null. */
  async session(headers: Headers): Promise<SessionView | null> {
    const id = this.sessionId(headers);
    if (!id) return null;
    const record = await this.store.touchReviewSession(hashToken(id), this.clock(), this.config.reviewAuth.sessionIdleSeconds);
    if (!record || !isReviewerRole(record.role)) return null;
    return { identity: sessionIdentity({ ...record, role: record.role }), csrfToken: csrfTokenFor(id) };
  }

  /**
   * The acting reviewer of an API request, or null in open mode. `write`: the request changes
   * state, so a session must also send its CSRF token. Throws 401 (no or unknown credentials,
   * expired session) or 403 (CSRF token missing or wrong).
   */
  async authenticate(headers: Headers, write: boolean): Promise<ReviewerIdentity | null> {
    if (this.mode === 'open') return null;
    if (this.mode === 'closed') {
      throw signInNeeded('The review workbench is closed: this server has authentication configured but no reviewer sign-in (REVIEW_OIDC_ISSUER) or API tokens (REVIEW_API_TOKENS).');
    }
    const authorization = header(headers, 'authorization');
    if (authorization !== undefined) {
      const token = /^Bearer[ ]+(\S+)$/i.exec(authorization.trim())?.[1];
      const digest = token ? Buffer.from(hashToken(token), 'hex') : undefined;
      // Every configured token is compared, so the time taken does not tell which one came close.
      let match: Config['reviewAuth']['apiTokens'][number] | undefined;
      for (const t of this.config.reviewAuth.apiTokens) {
        if (digest && crypto.timingSafeEqual(digest, Buffer.from(t.sha256, 'hex'))) match = t;
      }
      if (!match) throw signInNeeded('The API token is unknown.', 'invalid_token');
      return { reviewer: { name: match.name, role: match.role }, actor: `${match.role}:token ${match.name}`, via: 'token' };
    }
    const id = this.sessionId(headers);
    const view = id ? await this.session(headers) : null;
    if (!id || !view) {
      throw signInNeeded(id ? 'Your review session has ended; sign in again at /review/login.' : 'Sign in at /review/login (or send an API token) to use the review workbench.');
    }
    if (write) {
      const sent = header(headers, CSRF_HEADER);
      if (!sent || !sameText(sent, view.csrfToken)) throw forbidden(`This action needs the session's CSRF token in the ${CSRF_HEADER} header.`, CSRF_HEADER);
    }
    return view.identity;
  }

  /** Ends the session (CSRF-checked: it changes state) and answers where the browser goes next. */
  async signOut(headers: Headers): Promise<{ identity: ReviewerIdentity | null; setCookie: string; location: string }> {
    const identity = await this.authenticate(headers, true);
    const id = this.sessionId(headers);
    if (id) await this.store.deleteReviewSession(hashToken(id));
    const back = `${this.config.publicBaseUrl}/review`;
    const location = (await this.signIn?.logoutUrl(back)) ?? back;
    return { identity, setCookie: this.cookie(this.sessionCookie, '', 0), location };
  }
}

function sessionIdentity(s: { name: string; role: Reviewer['role']; subject: string; issuer: string }): ReviewerIdentity {
  return { reviewer: { name: s.name, role: s.role }, actor: `${s.role}:${s.name} (oidc sub ${s.subject}@${s.issuer})`, via: 'session' };
}

/** The CSRF token of a session: from its secret id, under a label of its own (never the stored hash). */
export function csrfTokenFor(sessionId: string): string {
  return crypto.createHash('sha256').update(`pa-review-csrf:${sessionId}`).digest('base64url');
}
