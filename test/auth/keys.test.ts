/** src/auth/keys.ts: key sets pinned from configuration, and jose errors as reasons. */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT, type JWK } from 'jose';
import { joseReason, pinKeys } from '../../src/auth/keys';

const NOW = new Date('2026-11-20T15:00:00Z');
const nowSec = Math.floor(NOW.getTime() / 1000);
let signer: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let publicJwk: JWK;

beforeAll(async () => {
  const pair = await generateKeyPair('ES384', { extractable: true });
  signer = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES384', use: 'sig' };
});

const sign = (claims: Record<string, unknown> = {}, kid = 'k1') =>
  new SignJWT({ iss: 'me', aud: 'you', jti: 'j', iat: nowSec, exp: nowSec + 60, ...claims }).setProtectedHeader({ alg: 'ES384', kid }).sign(signer);

/** The reason jose's refusal maps to, verifying with the pinned keys. */
async function reasonOf(keys: ReturnType<typeof pinKeys>, jwt: string, options: Parameters<typeof jwtVerify>[2] = {}): Promise<string> {
  try {
    await jwtVerify(jwt, keys.keys, { currentDate: NOW, algorithms: ['ES384'], ...options });
  } catch (error) {
    return joseReason(error, 'token', { aud: 'token audience does not match' });
  }
  return 'accepted';
}

describe('pinKeys', () => {
  test('inline set, file and URL all verify the same token', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-'));
    const file = path.join(dir, 'jwks.json');
    fs.writeFileSync(file, JSON.stringify({ keys: [publicJwk] }));
    const server = http.createServer((_req, res) => res.setHeader('Content-Type', 'application/json').end(JSON.stringify({ keys: [publicJwk] })));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
      const jwt = await sign();
      for (const keys of [pinKeys({ jwks: { keys: [publicJwk] } }, 'client a'), pinKeys({ jwksFile: file }, 'client b'), pinKeys({ jwksUrl: url }, 'client c')]) {
        expect(await reasonOf(keys, jwt)).toBe('accepted');
      }
      expect(pinKeys({ jwksUrl: url }, 'client c').jwksUrl).toBe(url);
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each([
    ['an inline set without keys', { jwks: { keys: [] } }, /The JWK Set of client x has no "keys"/],
    ['a missing file', { jwksFile: '/nonexistent/jwks.json' }, /JWKS file for client x cannot be read/],
    ['no source at all', {}, /client x needs a jwksUrl, a jwksFile or a jwks/],
  ])('%s stops the start', (_name, source, message) => {
    expect(() => pinKeys(source, 'client x')).toThrow(message);
  });
});

describe('joseReason', () => {
  const keys = () => pinKeys({ jwks: { keys: [publicJwk] } }, 'client');
  test.each<[string, () => Promise<string>, Parameters<typeof jwtVerify>[2], RegExp]>([
    ['expired', () => sign({ exp: nowSec - 600 }), {}, /^token has expired$/],
    ['claim override', () => sign({ aud: 'elsewhere' }), { audience: 'you' }, /^token audience does not match$/],
    ['missing claim', () => sign({ jti: undefined }), { requiredClaims: ['jti'] }, /^token claim "jti" is missing$/],
    ['other claim', () => sign({ iss: 'someone' }), { issuer: 'me' }, /^token claim "iss" is missing or invalid$/],
    ['algorithm', () => sign(), { algorithms: ['RS384'] }, /^token algorithm is not allowed$/],
    ['unknown kid', () => sign({}, 'k9'), {}, /^no trusted key matches the token kid$/],
    ['signature', async () => `${(await sign()).slice(0, -4)}AAAA`, {}, /^token signature is invalid$/],
    ['malformed', async () => 'a.b.c', {}, /^token is malformed or cannot be verified$/],
  ])('%s', async (_name, jwt, options, reason) => {
    expect(await reasonOf(keys(), await jwt(), options)).toMatch(reason);
  });

  test('an error that is not jose', () => {
    expect(joseReason(new Error('boom'), 'client assertion')).toBe('client assertion cannot be verified');
  });
});
