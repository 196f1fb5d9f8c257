/**
 * Structured JSON logs (pino), one line per event on stdout. Callers pass only non-PHI fields:
 * ids, codes, outcomes and timings — never names, birth dates, tokens or resource bodies. As a
 * second line of defence, fields that hold tokens or patient data are censored wherever they sit
 * (down to four levels deep), and every line logged while a request is handled carries its id.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import pino from 'pino';
import type { LogLevel } from './config';

export interface Logger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** The request being handled, for the lines its code logs (set by the HTTP layer). */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

/** Field names whose values never reach the log: credentials, then patient data. */
export const REDACTED_KEYS = [
  'authorization',
  'cookie',
  'set-cookie',
  'access_token',
  'accessToken',
  'refresh_token',
  'id_token',
  'client_assertion',
  'clientAssertion',
  'fhirAuthorization',
  'token',
  'password',
  'secret',
  'memberId',
  'member_id',
  'subscriberId',
  'name',
  'given',
  'family',
  'birthDate',
  'birth_date',
  'dob',
  'identifier',
  'address',
  'telecom',
  'ssn',
] as const;

/** pino's redaction takes paths: each key at the top level and under up to four levels of objects or arrays. */
function redactPaths(): string[] {
  const paths: string[] = [];
  for (const key of REDACTED_KEYS) {
    const leaf = /^[A-Za-z_]\w*$/.test(key) ? `.${key}` : `["${key}"]`;
    paths.push(leaf.startsWith('.') ? key : leaf);
    for (let depth = 1; depth <= 4; depth++) paths.push(`${Array(depth).fill('*').join('.')}${leaf}`);
  }
  return paths;
}

export interface LoggerOptions {
  silent?: boolean;
  level?: LogLevel;
  /** Where lines go; default stdout. Tests pass a stream to read them back. */
  destination?: pino.DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const log = pino(
    {
      level: options.silent ? 'silent' : (options.level ?? 'info'),
      messageKey: 'message',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths(), censor: '[redacted]' },
      // The request id of the code that logs, unless the caller names one.
      mixin: (fields) => {
        const current = requestContext.getStore();
        return current && !('requestId' in fields) ? { requestId: current.requestId } : {};
      },
    },
    options.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  return {
    info: (message, fields) => log.info(fields ?? {}, message),
    warn: (message, fields) => log.warn(fields ?? {}, message),
    error: (message, fields) => log.error(fields ?? {}, message),
  };
}

export const silentLogger: Logger = createLogger({ silent: true });
