import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createJwtVerifier, type JwtVerifier } from '../../src/crd/jwt';
import { OperationOutcomeError } from '../../src/fhir/outcomes';

const ISS = 'https://ehr.example.org/';
const OTHER_ISS = 'https://rogue.example.org/';
const AUD = 'https://pa.example.org/cds-services/pa-order-sign';
const NOW = new Date('2026-03-01T12:00:00Z');
const nowSec = Math.floor(NOW.getTime() / 1000);

let es: { privateKey: CryptoKey; publicJwk: JWK };
let rs: { privateKey: CryptoKey; publicJwk: JWK };
let stranger: CryptoKey;
let jwksFile: string;
let tmpDir: string;

beforeAll(async () => {
  const esPair = await generateKeyPair('ES384');
  const rsPair = await generateKeyPair('RS384');
  const strangerPair = await generateKeyPair('ES384');
  es = { privateKey: esPair.privateKey, publicJwk: { ...(await exportJWK(esPair.publicKey)), kid: 'es-1', alg: 'ES384', use: 'sig' } };
  rs = { privateKey: rsPair.privateKey, publicJwk: { ...(await exportJWK(rsPair.publicKey)), kid: 'rs-1', alg: 'RS384', use: 'sig' } };
  stranger = strangerPair.privateKey;
  tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'crd-jwks-'));
  jwksFile = path.join(tmpDir, 'ehr-jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify({ keys: [es.publicJwk, rs.publicJwk] }));
});

afterAll(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

function verifier(): JwtVerifier {
  return createJwtVerifier([{ iss: ISS, jwksFile }], { now: () => NOW });
}

interface TokenSpec {
  alg?: 'ES384' | 'RS384';
  key?: CryptoKey;
  kid?: string | null;
  claims?: Record<string, unknown>;
  omit?: string[];
}

let counter = 0;
async function token(spec: TokenSpec = {}): Promise<string> {
  const alg = spec.alg ?? 'ES384';
  const claims: Record<string, unknown> = {
    iss: ISS,
    aud: AUD,
    iat: nowSec - 10,
    exp: nowSec + 290,
    jti: `jti-${++counter}`,
    tenant: 'clinic-1',
    ...spec.claims,
  };
  for (const name of spec.omit ?? []) delete claims[name];
  const header: Record<string, unknown> = { alg, typ: 'JWT' };
  const kid = spec.kid === undefined ? (alg === 'ES384' ? 'es-1' : 'rs-1') : spec.kid;
  if (kid !== null) header.kid = kid;
  return new SignJWT(claims)
    .setProtectedHeader(header as { alg: string })
    .sign(spec.key ?? (alg === 'ES384' ? es.privateKey : rs.privateKey));
}

function b64url(value: object | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

async function expect401(promise: Promise<unknown>, text: RegExp): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OperationOutcomeError);
  const oo = error as OperationOutcomeError;
  expect(oo.status).toBe(401);
  expect(oo.outcome.issue[0]?.code).toBe('login');
  expect(oo.outcome.issue[0]?.diagnostics).toMatch(text);
}

describe('createJwtVerifier: accepted tokens', () => {
  test.each(['ES384', 'RS384'] as const)('%s token from a trusted issuer, pinned JWKS file', async (alg) => {
    const v = verifier();
    const claims = await v.verify(`Bearer ${await token({ alg })}`, AUD);
    expect(claims).toMatchObject({ iss: ISS, aud: AUD, jti: expect.stringMatching(/^jti-/), tenant: 'clinic-1' });
    expect(claims.kid).toBe(alg === 'ES384' ? 'es-1' : 'rs-1');
  });

  test('aud given as an array that contains the service URL', async () => {
    const v = verifier();
    await expect(v.verify(`Bearer ${await token({ claims: { aud: [AUD] } })}`, AUD)).resolves.toMatchObject({ iss: ISS });
  });

  test('the same jti is accepted again once the first token has expired', async () => {
    let now = NOW;
    const v = createJwtVerifier([{ iss: ISS, jwksFile }], { now: () => now, clockToleranceSeconds: 0 });
    const first = await token({ claims: { jti: 'reused', exp: nowSec + 60 } });
    await v.verify(`Bearer ${first}`, AUD);
    now = new Date(NOW.getTime() + 120_000);
    const second = await token({ claims: { jti: 'reused', iat: nowSec + 110, exp: nowSec + 400 } });
    await expect(v.verify(`Bearer ${second}`, AUD)).resolves.toMatchObject({ jti: 'reused' });
  });
});

describe('createJwtVerifier: every rejection is a 401 OperationOutcome', () => {
  const cases: [string, () => Promise<string | undefined>, RegExp, string?][] = [
    ['no Authorization header', async () => undefined, /Bearer/],
    ['not a Bearer scheme', async () => `Basic ${await token()}`, /Bearer/],
    ['garbage instead of a JWT', async () => 'Bearer not.a.jwt', /malformed/],
    ['wrong aud', async () => `Bearer ${await token({ claims: { aud: 'https://pa.example.org/cds-services/pa-order-select' } })}`, /audience/],
    ['aud of the discovery endpoint', async () => `Bearer ${await token({ claims: { aud: 'https://pa.example.org/cds-services' } })}`, /audience/],
    ['aud with a trailing slash', async () => `Bearer ${await token({ claims: { aud: `${AUD}/` } })}`, /audience/],
    ['expired', async () => `Bearer ${await token({ claims: { iat: nowSec - 600, exp: nowSec - 300 } })}`, /expired/],
    ['missing exp', async () => `Bearer ${await token({ omit: ['exp'] })}`, /"exp"/],
    ['missing iat', async () => `Bearer ${await token({ omit: ['iat'] })}`, /"iat"/],
    ['missing jti', async () => `Bearer ${await token({ omit: ['jti'] })}`, /"jti"/],
    ['iat in the future', async () => `Bearer ${await token({ claims: { iat: nowSec + 600, exp: nowSec + 900 } })}`, /issue time/],
    ['lifetime longer than allowed', async () => `Bearer ${await token({ claims: { iat: nowSec - 10, exp: nowSec + 7200 } })}`, /lifetime|issue time/],
    ['untrusted iss', async () => `Bearer ${await token({ claims: { iss: OTHER_ISS } })}`, /issuer is not trusted/],
    ['missing kid', async () => `Bearer ${await token({ kid: null })}`, /kid/],
    ['unknown kid', async () => `Bearer ${await token({ kid: 'not-in-jwks' })}`, /kid/],
    ['signed by a key that is not in the pinned JWKS', async () => `Bearer ${await token({ key: stranger })}`, /signature/],
    [
      'alg none (unsecured JWT)',
      async () => `Bearer ${b64url({ alg: 'none', typ: 'JWT', kid: 'es-1' })}.${b64url({ iss: ISS, aud: AUD, iat: nowSec, exp: nowSec + 60, jti: 'none-1' })}.`,
      /algorithm/,
    ],
    [
      'HS256 signed with the public key as HMAC secret',
      async () => {
        const secret = new TextEncoder().encode(JSON.stringify(es.publicJwk));
        return `Bearer ${await new SignJWT({ iss: ISS, aud: AUD, jti: 'hs-1' })
          .setProtectedHeader({ alg: 'HS256', kid: 'es-1', typ: 'JWT' })
          .setIssuedAt(nowSec)
          .setExpirationTime(nowSec + 60)
          .sign(secret)}`;
      },
      /algorithm/,
    ],
    [
      'ES256 (not ES384/RS384)',
      async () => {
        const pair = await generateKeyPair('ES256');
        return `Bearer ${await new SignJWT({ iss: ISS, aud: AUD, jti: 'es256-1' })
          .setProtectedHeader({ alg: 'ES256', kid: 'es-1', typ: 'JWT' })
          .setIssuedAt(nowSec)
          .setExpirationTime(nowSec + 60)
          .sign(pair.privateKey)}`;
      },
      /algorithm/,
    ],
    [
      'jku pointing somewhere else than the pinned JWKS URL',
      async () =>
        `Bearer ${await new SignJWT({ iss: 'https://url-pinned.example.org/', aud: AUD, jti: 'jku-1' })
          .setProtectedHeader({ alg: 'ES384', kid: 'es-1', typ: 'JWT', jku: 'https://attacker.example.org/jwks' })
          .setIssuedAt(nowSec)
          .setExpirationTime(nowSec + 60)
          .sign(es.privateKey)}`,
      /jku/,
    ],
    ['typ other than JWT', async () => `Bearer ${await new SignJWT({ iss: ISS, aud: AUD, jti: 'typ-1' }).setProtectedHeader({ alg: 'ES384', kid: 'es-1', typ: 'at+jwt' }).setIssuedAt(nowSec).setExpirationTime(nowSec + 60).sign(es.privateKey)}`, /typ/],
  ];

  test.each(cases)('%s', async (_name, header, text) => {
    const v = createJwtVerifier(
      [
        { iss: ISS, jwksFile },
        // A URL-pinned issuer that is never fetched in these tests (the jku check comes first).
        { iss: 'https://url-pinned.example.org/', jwksUrl: 'https://url-pinned.example.org/jwks' },
      ],
      { now: () => NOW },
    );
    await expect401(v.verify(await header(), AUD), text);
  });

  test('replayed jti', async () => {
    const v = verifier();
    const t = await token({ claims: { jti: 'once-only' } });
    await v.verify(`Bearer ${t}`, AUD);
    await expect401(v.verify(`Bearer ${t}`, AUD), /replay/);
  });

  test('replayed jti with a fresh signature and different aud is still a replay', async () => {
    const v = verifier();
    await v.verify(`Bearer ${await token({ claims: { jti: 'same-jti' } })}`, AUD);
    await expect401(v.verify(`Bearer ${await token({ claims: { jti: 'same-jti' } })}`, AUD), /replay/);
  });

  test('a rejected token does not consume its jti', async () => {
    const v = verifier();
    await expect401(v.verify(`Bearer ${await token({ claims: { jti: 'j-aud', aud: 'https://elsewhere/' } })}`, AUD), /audience/);
    await expect(v.verify(`Bearer ${await token({ claims: { jti: 'j-aud' } })}`, AUD)).resolves.toMatchObject({ jti: 'j-aud' });
  });

  test('error texts never contain the token', async () => {
    const v = verifier();
    const t = await token({ claims: { aud: 'https://elsewhere/' } });
    const error = (await v.verify(`Bearer ${t}`, AUD).catch((e: unknown) => e)) as OperationOutcomeError;
    expect(JSON.stringify(error.outcome)).not.toContain(t.split('.')[1]);
    expect(error.message).not.toContain(t);
  });

  test('a bounded replay cache still refuses recent replays', async () => {
    const v = createJwtVerifier([{ iss: ISS, jwksFile }], { now: () => NOW, replayCacheSize: 2 });
    const t = await token({ claims: { jti: 'recent' } });
    await v.verify(`Bearer ${await token()}`, AUD);
    await v.verify(`Bearer ${t}`, AUD);
    await expect401(v.verify(`Bearer ${t}`, AUD), /replay/);
  });
});

describe('createJwtVerifier: issuer pinned to a JWKS URL', () => {
  let server: http.Server;
  let jwksUrl: string;
  let hits = 0;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      hits += 1;
      if (req.url !== '/jwks') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [es.publicJwk, rs.publicJwk] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(async () => new Promise<void>((resolve) => server.close(() => resolve())));

  test('verifies with keys fetched from the pinned URL, and a matching jku is fine', async () => {
    const iss = 'https://remote-ehr.example.org/';
    const v = createJwtVerifier([{ iss, jwksUrl }], { now: () => NOW });
    const signed = await new SignJWT({ iss, aud: AUD, jti: 'remote-1' })
      .setProtectedHeader({ alg: 'RS384', kid: 'rs-1', typ: 'JWT', jku: jwksUrl })
      .setIssuedAt(nowSec)
      .setExpirationTime(nowSec + 60)
      .sign(rs.privateKey);
    await expect(v.verify(`Bearer ${signed}`, AUD)).resolves.toMatchObject({ iss, kid: 'rs-1' });
    expect(hits).toBeGreaterThan(0);
  });
});

describe('createJwtVerifier: configuration', () => {
  test('an unreadable JWKS file fails at start-up, not per request', () => {
    expect(() => createJwtVerifier([{ iss: ISS, jwksFile: path.join(tmpDir, 'missing.json') }])).toThrow(/cannot be read/);
  });

  test('a JWKS file without keys fails at start-up', () => {
    const empty = path.join(tmpDir, 'empty.json');
    fs.writeFileSync(empty, JSON.stringify({ keys: [] }));
    expect(() => createJwtVerifier([{ iss: ISS, jwksFile: empty }])).toThrow(/no "keys"/);
  });
});
