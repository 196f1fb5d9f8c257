/**
 * SMART Backend Services clients for HTTP tests: an ES384 key pair per client, its registration
 * (`SMART_CLIENTS` entry) and a token from the app's token endpoint.
 */
import type { Express } from 'express';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import request from 'supertest';
import type { SmartClientConfig } from '../../src/config';
import { EVALUATION_DATE } from './app';

type KeyLike = Parameters<SignJWT['sign']>[0];
const TOKEN_URL = 'http://pa.test/auth/token';
export const NPI_SYSTEM = 'http://hl7.org/fhir/sid/us-npi';

export interface SmartClients {
  configs: SmartClientConfig[];
  token(app: Express, clientId: string, scope: string): Promise<string>;
}

/** One client per `[clientId, NPI]`, each allowed `scope`. */
export async function smartClients(clients: ReadonlyArray<readonly [string, string]>, scope: string): Promise<SmartClients> {
  const keys = new Map<string, KeyLike>();
  const configs: SmartClientConfig[] = [];
  for (const [clientId, npi] of clients) {
    const pair = await generateKeyPair('ES384', { extractable: true });
    keys.set(clientId, pair.privateKey as KeyLike);
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: clientId, alg: 'ES384' };
    configs.push({ clientId, jwks: { keys: [jwk] }, organization: { system: NPI_SYSTEM, value: npi }, scope });
  }
  return {
    configs,
    async token(app, clientId, wanted) {
      const now = Math.floor(EVALUATION_DATE.getTime() / 1000);
      const assertion = await new SignJWT({ jti: crypto.randomUUID() })
        .setProtectedHeader({ alg: 'ES384', kid: clientId })
        .setIssuer(clientId)
        .setSubject(clientId)
        .setAudience(TOKEN_URL)
        .setExpirationTime(now + 240)
        .sign(keys.get(clientId) as KeyLike);
      const res = await request(app).post('/auth/token').type('form').send({
        grant_type: 'client_credentials',
        scope: wanted,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      });
      if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${JSON.stringify(res.body)}`);
      return res.body.access_token as string;
    },
  };
}
