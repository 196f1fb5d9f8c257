/**
 * Reviewer sign-in against a real OpenID provider (oidc-provider, in a child process on loopback),
 * driven in headless Chromium: authorization code + PKCE, the role from a claim, sessions in the
 * store (two app instances on one store act as one), CSRF on every action, hashed API tokens, and
 * the negative cases (no session, wrong state, no role, CSRF missing or wrong, expired sessions,
 * wrong token, a `reviewer` in the body).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Express } from 'express';
import type { BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import type { Bundle, ClaimResponse, OperationOutcome } from 'fhir/r4';
import { loadConfig, loadReviewAuthConfig, parseReviewApiTokens } from '../../src/config';
import { createApp } from '../../src/http/app';
import { allRoutes } from '../../src/http/routes';
import type { Logger } from '../../src/logger';
import { csrfTokenFor } from '../../src/review/auth';
import { assertNotOpen } from '../../src/server';
import { createTestApp, type TestApp } from '../support/app';
import { openBrowserContext } from '../support/browser';
import { DATABASE_URL, freshSchema } from '../support/postgres';
import { movableClock, pasRequest, rawSql } from './support';

jest.setTimeout(180_000);

const CLIENT_SECRET = crypto.randomBytes(16).toString('hex');
const API_TOKEN = `pa-review-${crypto.randomBytes(24).toString('base64url')}`;
const sha256 = (value: string) => crypto.createHash('sha256').update(value).digest('hex');
const ACCOUNTS = {
  ada: { name: 'Dr. Ada Moss', roles: ['pa-medical-director'] },
  pat: { name: 'Dr. Pat Lee', roles: ['pa-physician-reviewer', 'staff'] },
  nora: { name: 'Nora Clerk', roles: ['pa-billing'] },
};
const clock = movableClock(new Date());

let idp: ChildProcess;
let issuer: string;
let server: Server;
let base: string;
let t: TestApp;
/**
 * A second app instance: with DATABASE_URL its own store (connection pool) on the same schema, a
 * real second instance; on PGlite (one process) the same store under a second app.
 */
let other: Express;
let otherApp: TestApp | undefined;
let dropSchema: (() => Promise<void>) | undefined;

async function startProvider(redirectBase: string): Promise<string> {
  const client = {
    client_id: 'pa-review',
    client_secret: CLIENT_SECRET,
    redirect_uris: [`${redirectBase}/review/callback`],
    post_logout_redirect_uris: [`${redirectBase}/review`],
    token_endpoint_auth_method: 'client_secret_basic',
  };
  idp = spawn(process.execPath, [path.join(__dirname, 'oidc-provider.mjs')], {
    env: { ...process.env, NODE_OPTIONS: '', NODE_ENV: 'test', OIDC_TEST_CLIENT: JSON.stringify(client), OIDC_TEST_ACCOUNTS: JSON.stringify(ACCOUNTS) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    idp.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const ready = /READY (\S+)/.exec(out);
      if (ready) resolve(ready[1]!);
    });
    idp.once('exit', (code) => reject(new Error(`oidc-provider exited (${code}): ${out}`)));
  });
}

beforeAll(async () => {
  // The app listens first: the provider registers its callback URL; then the app learns the issuer.
  server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  issuer = await startProvider(base);
  const reviewAuth = loadReviewAuthConfig(
    {
      REVIEW_OIDC_ISSUER: issuer,
      REVIEW_OIDC_CLIENT_ID: 'pa-review',
      REVIEW_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      REVIEW_OIDC_SCOPE: 'openid profile roles',
      REVIEW_OIDC_ROLE_MAP: JSON.stringify({ 'pa-physician-reviewer': 'physician-reviewer', 'pa-medical-director': 'medical-director', 'pa-committee': 'committee' }),
      REVIEW_API_TOKENS: JSON.stringify([{ name: 'nightly-batch', role: 'physician-reviewer', sha256: sha256(API_TOKEN) }]),
      REVIEW_SESSION_IDLE_SECONDS: '900',
      REVIEW_SESSION_MAX_SECONDS: '3600',
    },
    base,
  );
  const pg = DATABASE_URL ? await freshSchema() : undefined;
  dropSchema = pg?.drop;
  const overrides = { publicBaseUrl: base, reviewAuth, ...(pg ? { databaseUrl: pg.databaseUrl } : {}) };
  t = await createTestApp(overrides, clock.now);
  server.on('request', t.app);
  if (pg) otherApp = await createTestApp(overrides, clock.now);
  other = otherApp?.app ?? createApp({ ...t.ctx }, allRoutes);
});

afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  idp?.kill('SIGTERM');
  await otherApp?.close();
  await t?.close();
  await dropSchema?.();
});

beforeEach(() => clock.set(new Date()));

async function submitted(name: 'kineret' | 'carvykti'): Promise<string> {
  const res = await request(t.app).post('/fhir/Claim/$submit').set('Content-Type', 'application/fhir+json').send(pasRequest(name));
  expect(res.status).toBe(200);
  const cr = (res.body as Bundle).entry?.[0]?.resource as ClaimResponse;
  return /(?:^|\/)Claim\/([^/]+)$/.exec(cr.request?.reference ?? '')?.[1] ?? '';
}

/** Opens /review, is sent to the provider, signs in there as `login`; returns the page after the callback. */
async function signIn(login: keyof typeof ACCOUNTS, context?: BrowserContext): Promise<{ context: BrowserContext; page: Page; callbackStatus: number }> {
  context ??= await openBrowserContext();
  const page = await context.newPage();
  await page.goto(`${base}/review`);
  expect(page.url().startsWith(issuer)).toBe(true);
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', 'any');
  const callback = page.waitForResponse((r) => r.url().startsWith(`${base}/review/callback`));
  await page.click('button[type="submit"]');
  const callbackStatus = (await callback).status();
  return { context, page, callbackStatus };
}

async function sessionCookie(context: BrowserContext): Promise<string> {
  const cookie = (await context.cookies(base)).find((c) => c.name === 'pa_review');
  if (!cookie) throw new Error('no session cookie');
  return cookie.value;
}

function diagnostics(body: unknown): string {
  return (body as OperationOutcome).issue?.[0]?.diagnostics ?? '';
}

describe('sign-in through the OpenID provider', () => {
  test('a medical director signs in, approves in the workbench; audit, review record and ClaimResponse name her', async () => {
    const claimId = await submitted('kineret');
    const { context, page, callbackStatus } = await signIn('ada');
    expect(callbackStatus).toBe(303);
    await page.locator('#signed-in').waitFor();
    await expect(page.locator('#signed-in-as').textContent()).resolves.toBe('Signed in: Dr. Ada Moss (Medical Director)');
    await expect(page.locator('#reviewer').isHidden()).resolves.toBe(true);

    // The cookie: http-only, SameSite=Lax, the random id (not Secure here: the base URL is http).
    const cookie = (await context.cookies(base)).find((c) => c.name === 'pa_review');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', secure: false });
    expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);

    await page.goto(`${base}/review#/claims/${claimId}`);
    await page.locator('form[data-action="approve"]').waitFor();
    await page.click('form[data-action="approve"] button[type="submit"]');
    const done = page.locator('#action-message .done');
    await done.waitFor();
    await expect(done.textContent()).resolves.toMatch(/Authorization PA-/);
    await expect(page.locator('ol[aria-label="Review actions"]').textContent()).resolves.toMatch(/approve by Dr\. Ada Moss \(Medical Director\)/);

    const actions = await t.ctx.store.listReviewActions(claimId);
    expect(actions.map((a) => [a.action, a.reviewer])).toEqual([['approve', { name: 'Dr. Ada Moss', role: 'medical-director' }]]);
    const versions = await t.ctx.store.listClaimResponseVersions(claimId);
    expect(versions.at(-1)?.actor).toBe('medical-director:Dr. Ada Moss');
    // The new ClaimResponse version is the one recorded with that actor, and says a human reviewed it.
    const cr = (await t.ctx.store.getClaim(claimId))?.claimResponse;
    expect(versions.at(-1)?.claimResponse).toEqual(cr);
    expect(cr?.extension?.find((e) => e.url.endsWith('extension-claimResponseReviewer'))?.extension).toEqual([{ url: 'wasHumanReviewedFlag', valueBoolean: true }]);
    const audit = (await t.ctx.store.listAudit(100)).filter((a) => a.outcome === `Claim/${claimId}`);
    expect(audit.find((a) => a.action === 'review.approve')?.actor).toBe(`medical-director:Dr. Ada Moss (oidc sub ada@${issuer})`);
    expect(audit.find((a) => a.action === 'review.read')?.actor).toBe(`medical-director:Dr. Ada Moss (oidc sub ada@${issuer})`);
    expect((await t.ctx.store.listAudit(100)).some((a) => a.action === 'review.sign-in' && a.actor?.startsWith('medical-director:Dr. Ada Moss') && a.status === 303)).toBe(true);
    await context.close();
  });

  test('no session: the API answers 401 with a challenge, the page sends the browser to sign in; login uses PKCE, state and nonce', async () => {
    const api = await request(t.app).get('/review/api/queue');
    expect(api.status).toBe(401);
    expect(api.headers['www-authenticate']).toBe('Bearer realm="review"');
    expect(diagnostics(api.body)).toMatch(/Sign in at \/review\/login/);
    const page = await request(t.app).get('/review');
    expect(page.status).toBe(303);
    expect(page.headers.location).toBe('/review/login');

    const login = await request(t.app).get('/review/login');
    expect(login.status).toBe(303);
    const to = new URL(login.headers.location as string);
    expect(to.origin).toBe(issuer);
    expect(Object.fromEntries(to.searchParams)).toMatchObject({ client_id: 'pa-review', response_type: 'code', code_challenge_method: 'S256', redirect_uri: `${base}/review/callback`, scope: 'openid profile roles' });
    for (const key of ['state', 'nonce', 'code_challenge']) expect(to.searchParams.get(key)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(String(login.headers['set-cookie'])).toMatch(/^pa_review_login=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/review\/callback; HttpOnly; SameSite=Lax$/);
  });

  test('a callback with the wrong state, or from a browser that started no sign-in, is refused (400)', async () => {
    const login = await request(t.app).get('/review/login');
    const cookie = String(login.headers['set-cookie']).split(';')[0]!;
    const wrong = await request(t.app).get('/review/callback?code=abc&state=not-the-one').set('Cookie', cookie);
    expect(wrong.status).toBe(400);
    expect((wrong.body as OperationOutcome).issue[0]).toMatchObject({ code: 'invalid', expression: ['state'] });
    // The sign-in was used up: the right state with the same cookie does not work afterwards either.
    const state = new URL(login.headers.location as string).searchParams.get('state');
    expect((await request(t.app).get(`/review/callback?code=abc&state=${state}`).set('Cookie', cookie)).status).toBe(400);
    const none = await request(t.app).get(`/review/callback?code=abc&state=${state}`);
    expect(none.status).toBe(400);
    expect(diagnostics(none.body)).toMatch(/No sign-in is in progress/);
  });

  test('a user the provider gives no reviewer role gets 403 and no session', async () => {
    const { context, page, callbackStatus } = await signIn('nora');
    expect(callbackStatus).toBe(403);
    await expect(page.textContent('body')).resolves.toMatch(/signed in as Nora Clerk, but the provider gives you no reviewer role/);
    expect((await context.cookies(base)).some((c) => c.name === 'pa_review')).toBe(false);
    await context.close();
  });
});

describe('the session', () => {
  test('CSRF token missing or wrong → 403; a reviewer in the body is ignored; a second instance knows the session', async () => {
    const kineret = await submitted('kineret');
    const carvykti = await submitted('carvykti');
    const { context } = await signIn('pat');
    const cookie = `pa_review=${await sessionCookie(context)}`;
    await context.close();

    const session = await request(t.app).get('/review/api/session').set('Cookie', cookie);
    expect(session.status).toBe(200);
    expect(session.headers['cache-control']).toBe('no-store');
    expect(session.body).toMatchObject({ mode: 'session', reviewer: { name: 'Dr. Pat Lee', role: 'physician-reviewer' } });
    const csrf = (session.body as { csrfToken: string }).csrfToken;

    const post = (app: Express, url: string, body: object, token?: string) => {
      const r = request(app).post(url).set('Cookie', cookie).set('Content-Type', 'application/json');
      return (token === undefined ? r : r.set('X-CSRF-Token', token)).send(body);
    };
    for (const token of [undefined, 'wrong', csrfTokenFor('another-session')]) {
      const refused = await post(t.app, `/review/api/claims/${kineret}/decision`, { action: 'approve' }, token);
      expect(refused.status).toBe(403);
      expect((refused.body as OperationOutcome).issue[0]).toMatchObject({ code: 'forbidden', expression: ['x-csrf-token'] });
      expect((await post(t.app, `/review/api/claims/${kineret}/assignment`, { assignee: 'x' }, token)).status).toBe(403);
    }
    expect((await post(t.app, '/review/logout', {})).status).toBe(403);

    // The body claims the committee: ignored. The physician reviewer may not approve a committee drug.
    const asCommittee = await post(other, `/review/api/claims/${carvykti}/decision`, { action: 'approve', reviewer: { name: 'Mallory', role: 'committee' } }, csrf);
    expect(asCommittee.status).toBe(403);
    expect(diagnostics(asCommittee.body)).toMatch(/a physician reviewer may not approve it/);
    const assigned = await post(other, `/review/api/claims/${kineret}/assignment`, { assignee: 'Dr. Amir Haddad', reviewer: { name: 'Mallory', role: 'committee' } }, csrf);
    expect(assigned.status).toBe(200);
    expect((assigned.body as { action: { reviewer: unknown } }).action.reviewer).toEqual({ name: 'Dr. Pat Lee', role: 'physician-reviewer' });
    const approved = await post(t.app, `/review/api/claims/${kineret}/decision`, { action: 'approve' }, csrf);
    expect(approved.status).toBe(200);
    expect((await t.ctx.store.listReviewActions(kineret)).map((a) => a.reviewer.name)).toEqual(['Dr. Pat Lee', 'Dr. Pat Lee']);

    // Sign-out ends the session for every instance, and points the browser at the provider's logout.
    const out = await post(other, '/review/logout', {}, csrf);
    expect(out.status).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/^pa_review=; Max-Age=0; Path=\/; HttpOnly; SameSite=Lax$/);
    const logout = new URL((out.body as { location: string }).location);
    expect(logout.origin).toBe(issuer);
    expect(logout.searchParams.get('post_logout_redirect_uri')).toBe(`${base}/review`);
    expect((await request(t.app).get('/review/api/queue').set('Cookie', cookie)).status).toBe(401);
  });

  test('with an https base URL the cookies are Secure and the session cookie is __Host- prefixed', async () => {
    const https = createApp({ ...t.ctx, config: { ...t.ctx.config, publicBaseUrl: 'https://pa.example.org' } }, allRoutes);
    const login = await request(https).get('/review/login');
    expect(String(login.headers['set-cookie'])).toMatch(/^pa_review_login=[A-Za-z0-9_-]{43}; Max-Age=600; Path=\/review\/callback; HttpOnly; Secure; SameSite=Lax$/);
    const { context } = await signIn('pat');
    const id = await sessionCookie(context);
    await context.close();
    expect((await request(https).get('/review/api/queue').set('Cookie', `pa_review=${id}`)).status).toBe(401);
    const session = await request(https).get('/review/api/session').set('Cookie', `__Host-pa_review=${id}`);
    expect(session.status).toBe(200);
    const out = await request(https).post('/review/logout').set('Cookie', `__Host-pa_review=${id}`).set('X-CSRF-Token', (session.body as { csrfToken: string }).csrfToken);
    expect(String(out.headers['set-cookie'])).toMatch(/^__Host-pa_review=; Max-Age=0; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
  });

  test('a session ends after the idle time, and at its absolute end however busy', async () => {
    const idle = await signIn('pat');
    const idleCookie = `pa_review=${await sessionCookie(idle.context)}`;
    await idle.context.close();
    clock.advance(899_000);
    expect((await request(t.app).get('/review/api/queue').set('Cookie', idleCookie)).status).toBe(200);
    clock.advance(901_000);
    const ended = await request(t.app).get('/review/api/queue').set('Cookie', idleCookie);
    expect(ended.status).toBe(401);
    expect(diagnostics(ended.body)).toMatch(/session has ended/);

    clock.set(new Date());
    const busy = await signIn('pat');
    const busyCookie = `pa_review=${await sessionCookie(busy.context)}`;
    await busy.context.close();
    // Used every 10 minutes: never idle, but 12 × 10 minutes passes the one-hour absolute end.
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      clock.advance(600_000);
      statuses.push((await request(t.app).get('/review/api/queue').set('Cookie', busyCookie)).status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 401, 401]);
  });
});

describe('API tokens', () => {
  test('a configured token acts as its role without CSRF; a wrong one is 401; no token or session id is stored in plaintext', async () => {
    const claimId = await submitted('kineret');
    const wrong = await request(t.app).get('/review/api/queue').set('Authorization', `Bearer ${API_TOKEN}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.headers['www-authenticate']).toBe('Bearer realm="review", error="invalid_token"');
    expect((await request(t.app).get('/review/api/queue').set('Authorization', 'Basic abc')).status).toBe(401);

    const queue = await request(other).get('/review/api/queue').set('Authorization', `Bearer ${API_TOKEN}`);
    expect(queue.status).toBe(200);
    const approved = await request(t.app)
      .post(`/review/api/claims/${claimId}/decision`)
      .set('Authorization', `Bearer ${API_TOKEN}`)
      .set('Content-Type', 'application/json')
      .send({ action: 'approve', reviewer: { name: 'Someone Else', role: 'committee' } });
    expect(approved.status).toBe(200);
    expect((await t.ctx.store.listReviewActions(claimId))[0]?.reviewer).toEqual({ name: 'nightly-batch', role: 'physician-reviewer' });
    const audit = (await t.ctx.store.listAudit(50)).find((a) => a.action === 'review.approve' && a.outcome === `Claim/${claimId}`);
    expect(audit?.actor).toBe('physician-reviewer:token nightly-batch');

    // Every row of every table, as text: the token, a live session id and its CSRF token never appear; the session's hash does.
    const { context } = await signIn('ada');
    const sessionId = await sessionCookie(context);
    await context.close();
    const sql = rawSql(t.ctx.store);
    const { rows: tables } = await sql.query<{ table_name: string }>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
    );
    let everything = '';
    for (const { table_name } of tables) {
      const { rows } = await sql.query<{ row: string }>(`SELECT row_to_json(x)::text AS row FROM "${table_name}" x`);
      everything += rows.map((r) => r.row).join('\n');
    }
    expect(tables.map((r) => r.table_name)).toEqual(expect.arrayContaining(['review_sessions', 'review_logins', 'claims']));
    expect(everything).toContain(sha256(sessionId));
    expect(everything).not.toContain(API_TOKEN);
    expect(everything).not.toContain(sessionId);
    expect(everything).not.toContain(csrfTokenFor(sessionId));
  });
});

describe('configuration and start-up', () => {
  test('REVIEW_API_TOKENS takes hashes only; REVIEW_OIDC_ROLE_MAP only known roles; the redirect URL defaults from PUBLIC_BASE_URL', () => {
    expect(() => parseReviewApiTokens(JSON.stringify([{ name: 'a', role: 'committee', token: 'plain' }]))).toThrow(/sha256 must be the hex SHA-256/);
    expect(() => parseReviewApiTokens(JSON.stringify([{ name: 'a', role: 'nurse', sha256: sha256('x') }]))).toThrow(/role must be one of/);
    const env = { REVIEW_OIDC_ISSUER: 'https://idp.example.org', REVIEW_OIDC_CLIENT_ID: 'c', REVIEW_OIDC_CLIENT_SECRET: 's' };
    expect(() => loadReviewAuthConfig({ ...env, REVIEW_OIDC_ROLE_MAP: '{"md":"boss"}' }, 'https://pa.example.org')).toThrow(/REVIEW_OIDC_ROLE_MAP\["md"\]/);
    expect(() => loadReviewAuthConfig({ REVIEW_OIDC_ISSUER: 'https://idp.example.org' }, 'https://pa.example.org')).toThrow(/REVIEW_OIDC_CLIENT_ID/);
    expect(loadReviewAuthConfig(env, 'https://pa.example.org').oidc).toMatchObject({
      redirectUrl: 'https://pa.example.org/review/callback',
      roleClaim: 'roles',
      roleMap: { 'physician-reviewer': 'physician-reviewer', 'medical-director': 'medical-director', committee: 'committee' },
    });
  });

  test('production: reviewer sign-in over http refuses to start; /fhir and CDS Hooks authenticated without reviewer sign-in keeps /review closed and says so', () => {
    const lines: string[] = [];
    const logger = { warn: (msg: string) => lines.push(msg), info: () => undefined, error: () => undefined } as Logger;
    const secured = {
      NODE_ENV: 'production',
      DATABASE_URL: '',
      PUBLIC_BASE_URL: 'https://pa.example.org',
      SMART_CLIENTS: JSON.stringify([{ clientId: 'ehr', jwks: { keys: [] }, organization: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' }, scope: 'system/Claim.c' }]),
      CDS_TRUSTED_ISSUERS: JSON.stringify([{ iss: 'https://ehr.example.org', jwksUrl: 'https://ehr.example.org/jwks' }]),
    };
    assertNotOpen(loadConfig(secured), logger);
    expect(lines).toEqual([expect.stringMatching(/^review workbench closed: no reviewer sign-in/)]);
    const oidc = { REVIEW_OIDC_ISSUER: 'http://idp.example.org', REVIEW_OIDC_CLIENT_ID: 'c', REVIEW_OIDC_CLIENT_SECRET: 's' };
    expect(() => assertNotOpen(loadConfig({ ...secured, ...oidc }), logger)).toThrow(/refuses reviewer sign-in over plain http/);
    lines.length = 0;
    assertNotOpen(loadConfig({ ...secured, ...oidc, REVIEW_OIDC_ISSUER: 'https://idp.example.org' }), logger);
    expect(lines).toEqual([]);
  });
});
