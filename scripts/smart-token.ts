/**
 * Signs a SMART Backend Services client assertion and prints it:
 *   npx tsx scripts/smart-token.ts <private-jwk.json> <clientId> <tokenUrl>
 * or makes a client key pair (ES384) to register (README, "SMART Backend Services"):
 *   npx tsx scripts/smart-token.ts keygen <private-jwk.json> <public-jwks.json>
 * The JWK needs "kid" and "alg" (RS384 or ES384). Then:
 *   curl -s -X POST $TOKEN_URL -d grant_type=client_credentials -d scope='system/Claim.c system/ClaimResponse.r' \
 *     -d client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer -d client_assertion=$(npx tsx scripts/smart-token.ts key.json ehr-1 $TOKEN_URL)
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';

async function keygen(privateFile: string, publicFile: string): Promise<void> {
  const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
  const kid = crypto.randomUUID();
  fs.writeFileSync(privateFile, JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: 'ES384' }), { mode: 0o600 });
  fs.writeFileSync(publicFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' }] }));
}

async function main(): Promise<void> {
  if (process.argv[2] === 'keygen') {
    const [privateFile, publicFile] = process.argv.slice(3);
    if (!privateFile || !publicFile) throw new Error('usage: smart-token.ts keygen <private-jwk.json> <public-jwks.json>');
    return keygen(privateFile, publicFile);
  }
  const [file, clientId, tokenUrl] = process.argv.slice(2);
  if (!file || !clientId || !tokenUrl) throw new Error('usage: smart-token.ts <private-jwk.json> <clientId> <tokenUrl>');
  const jwk = JSON.parse(fs.readFileSync(file, 'utf8')) as JWK;
  const alg = jwk.alg ?? (jwk.kty === 'EC' ? 'ES384' : 'RS384');
  const key = await importJWK(jwk, alg);
  const jwt = await new SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg, kid: jwk.kid ?? 'key-1', typ: 'JWT' })
    .setIssuer(clientId).setSubject(clientId).setAudience(tokenUrl)
    .setExpirationTime('4m')
    .sign(key);
  process.stdout.write(`${jwt}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
});
