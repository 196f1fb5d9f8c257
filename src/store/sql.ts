/**
 * The smallest SQL surface the store needs, satisfied by both PGlite (embedded, one connection)
 * and node-postgres (a pool). Everything above this file speaks PostgreSQL only.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import type { Pool, PoolClient } from 'pg';

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** Runs statements; inside a transaction this is bound to the transaction's connection. */
export interface SqlExecutor {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface SqlClient extends SqlExecutor {
  readonly backend: 'pglite' | 'postgres';
  /** BEGIN … COMMIT around `fn`; ROLLBACK and rethrow when it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Error raised by the store with a message meant for logs (never carries row contents). */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}

/** Another request already holds this submitter's Claim identifier (the transaction was rolled back). */
export class DuplicateSubmissionError extends StoreError {
  constructor(readonly submissionKey: string) {
    super('a claim with this submission key is already on file');
    this.name = 'DuplicateSubmissionError';
  }
}

/** The claim moved on since the caller read it (optimistic check), or is in a state that forbids the change. */
export class ConflictError extends StoreError {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** SQLSTATE 23505 (unique_violation), from either driver. */
export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}

/**
 * PostgreSQL text cannot hold U+0000, and a received identifier may carry one: it becomes U+FFFD
 * rather than failing the request (jsonb parameters are cleaned the same way by the store).
 */
function withoutNul(params: unknown[] | undefined): unknown[] | undefined {
  if (!params) return params;
  return params.map((p) => (typeof p === 'string' && p.includes('\u0000') ? p.replace(/\u0000/g, '\uFFFD') : p));
}

/** PGlite's shared_buffers (measured: RSS 330 → 205 MB for a bare store after 400 jsonb inserts, same insert CPU). */
const PGLITE_SHARED_BUFFERS = '16MB';

/** PostgreSQL type oids whose text PGlite should parse with this module's JSON.parse. */
const JSON_OIDS = [114, 3802];

/**
 * A freshly initialised, empty cluster, dumped once per process: `memory://` opens load it instead
 * of running initdb each time (measured here: ~2.5 s per initdb, ~0.5 s per load).
 */
let emptyCluster: Promise<Blob> | undefined;
let emptyClusterSource: (() => Blob) | undefined;

/**
 * Tests: the empty cluster comes from a dump made once per test run (test/global-setup.js), read
 * when the first store opens, instead of an initdb in every test file.
 */
export function useEmptyClusterDump(load: () => Blob): void {
  emptyClusterSource = load;
  emptyCluster = undefined;
}

/**
 * Embedded PostgreSQL in a data folder (`memory://` = in memory). PGlite has one connection and
 * queues callers itself; one process per folder (PGlite does not share a folder between processes).
 */
export async function openPglite(dataDir: string): Promise<SqlClient> {
  // Loaded lazily: a PostgreSQL deployment never needs the wasm build.
  const { PGlite: PGliteClass } = await import('@electric-sql/pglite');
  // JSON parsed here, not inside PGlite: under jest PGlite lives outside the test sandbox
  // (test/store/jest-environment.js) and its objects would belong to another realm.
  const parsers = Object.fromEntries(JSON_OIDS.map((oid) => [oid, (text: string) => JSON.parse(text) as unknown]));
  // PostgreSQL's default 128 MB of shared buffers lives in the wasm heap and stays resident once
  // touched (~120 MB of the server's RSS); one connection with rows read by key needs far less.
  const startParams = [...PGliteClass.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`];
  let db: PGlite;
  let release = (): void => undefined;
  if (dataDir.startsWith('memory://')) {
    const source = emptyClusterSource;
    emptyCluster ??= source ? Promise.resolve().then(source) : (async () => {
      const seed = await PGliteClass.create();
      try {
        return await seed.dumpDataDir('none');
      } finally {
        await seed.close();
      }
    })();
    const loadDataDir = await emptyCluster.catch((error: unknown) => {
      emptyCluster = undefined;
      throw error;
    });
    db = await PGliteClass.create({ loadDataDir, parsers, startParams });
  } else {
    fs.mkdirSync(dataDir, { recursive: true });
    const unlock = lockDataDir(dataDir);
    try {
      db = await PGliteClass.create(dataDir, { parsers, startParams });
    } catch (error) {
      unlock();
      throw error;
    }
    release = unlock;
  }
  let closed = false;
  const run = async <R>(q: Pick<PGlite, 'query'>, sql: string, params?: unknown[]): Promise<QueryResult<R>> => {
    const result = await q.query<R>(sql, withoutNul(params));
    return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
  };
  return {
    backend: 'pglite',
    query: (sql, params) => run(db, sql, params),
    exec: async (sql) => void (await db.exec(sql)),
    transaction: (fn) =>
      db.transaction((tx) =>
        fn({ query: (sql, params) => run(tx, sql, params), exec: async (sql) => void (await tx.exec(sql)) }),
      ),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await db.close();
      } finally {
        release();
      }
    },
  };
}

const LOCK_FILE = 'pa-server.lock';

/**
 * PGlite happily opens a folder another PGlite is writing, and the two corrupt it. A lock file
 * holding the owner's pid refuses the second opener (in this process or another); a lock left by
 * a process that no longer runs is taken over. Returns the release function.
 */
function lockDataDir(dataDir: string): () => void {
  const file = path.join(dataDir, LOCK_FILE);
  const release = () => {
    process.removeListener('exit', release);
    try {
      if (fs.readFileSync(file, 'utf8') === String(process.pid)) fs.unlinkSync(file);
    } catch {
      // Already gone: nothing to release.
    }
  };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      process.once('exit', release);
      return release;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(readOrEmpty(file), 10);
    // An empty file is a lock being written right now: treat it as taken.
    if (!Number.isInteger(owner) || owner === process.pid || isRunning(owner)) {
      throw new StoreError(
        `data folder ${dataDir} is in use by ${Number.isInteger(owner) ? (owner === process.pid ? 'this process' : `process ${owner}`) : 'another process'}; ` +
          'PGlite cannot share a folder (stop the other server, use another DATA_DIR, or set DATABASE_URL)',
      );
    }
    fs.rmSync(file, { force: true });
  }
  throw new StoreError(`could not take the lock ${file}`);
}

function readOrEmpty(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Real PostgreSQL through a node-postgres pool. */
export async function openPostgres(connectionString: string): Promise<SqlClient> {
  const { Pool: PoolClass } = await import('pg');
  const pool: Pool = new PoolClass({ connectionString, max: 10 });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const run = async <R>(c: Pool | PoolClient, sql: string, params?: unknown[]): Promise<QueryResult<R>> => {
    const result = await c.query(sql, withoutNul(params));
    return { rows: result.rows as R[], rowCount: result.rowCount ?? result.rows.length };
  };
  // Fail at start-up, not on the first request, when the database is unreachable.
  await run(pool, 'SELECT 1');
  let closed = false;
  return {
    backend: 'postgres',
    query: (sql, params) => run(pool, sql, params),
    // Without parameters node-postgres uses the simple protocol, which accepts several statements.
    exec: async (sql) => void (await pool.query(sql)),
    async transaction(fn) {
      const conn = await pool.connect();
      let broken: Error | undefined;
      try {
        await conn.query('BEGIN');
        try {
          const value = await fn({
            query: (sql, params) => run(conn, sql, params),
            exec: async (sql) => void (await conn.query(sql)),
          });
          await conn.query('COMMIT');
          return value;
        } catch (error) {
          try {
            await conn.query('ROLLBACK');
          } catch (rollbackError) {
            // The connection is unusable; destroy it instead of returning it to the pool.
            broken = rollbackError as Error;
          }
          throw error;
        }
      } finally {
        conn.release(broken);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}
