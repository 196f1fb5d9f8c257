/**
 * Every configuration knob, read from the environment once. Other modules receive a `Config`
 * (or the part they need) as an argument; nothing else reads `process.env`.
 */
import path from 'node:path';

/** Canonical base of every artifact this server publishes (Questionnaire, Library, ValueSet). */
export const CANONICAL_BASE = 'http://pa.example.org/fhir';

export const REPO_ROOT = path.resolve(__dirname, __dirname.includes(`${path.sep}dist${path.sep}`) ? '../..' : '..');

export interface Config {
  port: number;
  /** Public URL of this server, used in links (policy pages, card URLs, `aud` checks). */
  publicBaseUrl: string;
  /** PostgreSQL connection string; when absent the embedded store (PGlite) is used. */
  databaseUrl?: string;
  /** Folder of the embedded store; `memory://` keeps it in memory (tests). */
  dataDir: string;
  production: boolean;
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /** CDS Hooks JWT: trusted issuers, each pinned to a JWKS URL or file. Empty = open (dev only). */
  trustedIssuers: TrustedIssuer[];
  /** Folders the server loads its policy content from. */
  paths: { cql: string; elm: string; catalog: string; valueSets: string; questionnaires: string };
}

export interface TrustedIssuer {
  iss: string;
  jwksUrl?: string;
  jwksFile?: string;
}

function parseIssuers(raw: string | undefined): TrustedIssuer[] {
  if (!raw) return [];
  const parsed: unknown = JSON.parse(raw);
  if (!Array.isArray(parsed)) throw new Error('CDS_TRUSTED_ISSUERS must be a JSON array of {iss, jwksUrl|jwksFile}');
  return parsed.map((entry: unknown, index) => {
    const e = entry as Partial<TrustedIssuer>;
    if (typeof e.iss !== 'string' || (typeof e.jwksUrl !== 'string' && typeof e.jwksFile !== 'string')) {
      throw new Error(`CDS_TRUSTED_ISSUERS[${index}] needs "iss" and one of "jwksUrl" or "jwksFile"`);
    }
    return { iss: e.iss, ...(e.jwksUrl ? { jwksUrl: e.jwksUrl } : {}), ...(e.jwksFile ? { jwksFile: e.jwksFile } : {}) };
  });
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = Number(env.PORT ?? 8080);
  const root = REPO_ROOT;
  return {
    port,
    publicBaseUrl: (env.PUBLIC_BASE_URL ?? `http://localhost:${port}`).replace(/\/$/, ''),
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    dataDir: env.DATA_DIR ?? path.join(root, 'data', 'pglite'),
    production: env.NODE_ENV === 'production',
    maxBodyBytes: Number(env.MAX_BODY_BYTES ?? 25 * 1024 * 1024),
    trustedIssuers: parseIssuers(env.CDS_TRUSTED_ISSUERS),
    paths: {
      cql: path.join(root, 'cql'),
      elm: path.join(root, 'dist', 'elm'),
      catalog: path.join(root, 'catalog', 'policies'),
      valueSets: path.join(root, 'catalog', 'valuesets'),
      questionnaires: path.join(root, 'questionnaires'),
    },
  };
}
