/**
 * The smallest SQL surface the store needs, satisfied by both PGlite (embedded, one connection)
 * and node-postgres (a pool). Everything above this file speaks PostgreSQL only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Pool, PoolClient } from 'pg';
import type { PgliteOk, PgliteReady, PgliteReply, PgliteRequest, PgliteThreadData, PortableError, WasmModule } from './pglite-thread';

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

/** PostgreSQL type oids (json, jsonb) whose text is parsed with JSON.parse on the PGlite thread. */
const JSON_OIDS = [114, 3802];

/**
 * A freshly initialised, empty cluster, dumped once per process: `memory://` opens load it instead
 * of running initdb each time (measured here: ~2.5 s per initdb, ~0.5 s per load).
 */
let emptyCluster: Promise<Uint8Array<ArrayBuffer>> | undefined;
let emptyClusterSource: (() => Blob) | undefined;
/**
 * What later opens reuse: PGlite's compiled WebAssembly, from the first thread that opened a
 * database (see pglite-thread.ts), and (tests only) emptied in-memory databases' threads.
 */
export interface EmbeddedStoreShare {
  pgliteWasm?: WasmModule;
  /** Set by tests: a closed `memory://` store's thread, emptied, waits here for the next open. */
  spareThreads?: Worker[];
}
let shared: EmbeddedStoreShare = {};
/** Spare in-memory threads kept at most (each holds its wasm memory). */
const MAX_SPARE_THREADS = 2;

/**
 * Tests: the empty cluster comes from a dump made once per test run (test/global-setup.js), read
 * when the first store opens, instead of an initdb in every test file.
 */
export function useEmptyClusterDump(load: () => Blob): void {
  emptyClusterSource = load;
  emptyCluster = undefined;
}

/**
 * Tests: the compiled WebAssembly and spare in-memory databases are kept in `holder`, which
 * outlives this module (jest loads it anew for every test file). A new in-memory database costs
 * about 1.5 s of CPU (thread, TypeScript, WebAssembly, unpacking the cluster); emptying one, ~50 ms.
 */
export function shareEmbeddedStoresIn(holder: EmbeddedStoreShare): void {
  holder.pgliteWasm ??= shared.pgliteWasm;
  holder.spareThreads ??= [];
  shared = holder;
}

/** The empty cluster: the dump made or given earlier (call only when `emptyCluster` or `emptyClusterSource` is set). */
async function emptyClusterDump(): Promise<Uint8Array<ArrayBuffer>> {
  const source = emptyClusterSource;
  if (!emptyCluster && source) emptyCluster = Promise.resolve().then(async () => new Uint8Array(await source().arrayBuffer()));
  if (!emptyCluster) throw new StoreError('no empty PGlite cluster at hand');
  return emptyCluster.catch((error: unknown) => {
    emptyCluster = undefined;
    throw error;
  });
}

/** An error from the PGlite thread, with PostgreSQL's fields (`code` is the SQLSTATE). */
function fromPortable(e: PortableError): Error {
  const error = Object.assign(new Error(e.message), e.fields);
  error.name = e.name;
  return error;
}

/**
 * Embedded PostgreSQL in a data folder (`memory://` = in memory), on a worker thread of its own
 * (./pglite-thread.ts): its statements run there, not on the event loop. PGlite has one connection
 * and queues callers itself; one process per folder (PGlite does not share a folder between processes).
 */
export async function openPglite(dataDir: string): Promise<SqlClient> {
  // PostgreSQL's default 128 MB of shared buffers lives in the wasm heap and stays resident once
  // touched (~120 MB of the server's RSS); one connection with rows read by key needs far less.
  const startParams = ['-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`];
  let release = (): void => undefined;
  let data: PgliteThreadData;
  let madeEmptyCluster: ((dump: Uint8Array<ArrayBuffer> | undefined) => void) | undefined;
  let isNewFolder = false;
  if (dataDir.startsWith('memory://')) {
    let spare = shared.spareThreads?.pop();
    // A spare whose thread has ended since (threadId -1) is dropped.
    while (spare && spare.threadId < 0) spare = shared.spareThreads?.pop();
    if (spare) return pgliteClient(adoptPgliteWorker(spare), () => undefined, true);
    let dump: Uint8Array<ArrayBuffer> | undefined;
    if (emptyCluster || emptyClusterSource) {
      dump = await emptyClusterDump();
    } else {
      // This thread runs initdb and sends the dump back for the next memory:// opens.
      emptyCluster = new Promise((resolve, reject) => {
        madeEmptyCluster = (made) => (made ? resolve(made) : reject(new StoreError('the PGlite thread made no empty cluster')));
      });
      emptyCluster.catch(() => (emptyCluster = undefined));
    }
    data = { dataDir: null, startParams, jsonOids: JSON_OIDS, ...(dump ? { emptyCluster: dump } : {}) };
  } else {
    fs.mkdirSync(dataDir, { recursive: true });
    release = lockDataDir(dataDir);
    // A new folder starts from the empty cluster this process already has (tests), not from initdb.
    isNewFolder = !fs.existsSync(path.join(dataDir, 'PG_VERSION'));
    const dump = isNewFolder && (emptyCluster || emptyClusterSource) ? await emptyClusterDump() : undefined;
    data = { dataDir, startParams, jsonOids: JSON_OIDS, ...(dump ? { emptyCluster: dump } : {}) };
  }
  let thread: PgliteThread;
  try {
    // A new cluster: initdb grows PGlite's wasm memory to ~600 MB, which a thread never gives
    // back, so it runs on a thread of its own that then ends; the server's thread opens the result.
    if (isNewFolder && !data.emptyCluster) {
      const init = await startPgliteThread(shared.pgliteWasm ? { ...data, wasmModule: shared.pgliteWasm } : data);
      shared.pgliteWasm ??= init.wasmModule;
      await init.close();
    }
    thread = await startPgliteThread(shared.pgliteWasm ? { ...data, wasmModule: shared.pgliteWasm } : data);
  } catch (error) {
    release();
    madeEmptyCluster?.(undefined);
    throw error;
  }
  madeEmptyCluster?.(thread.emptyCluster);
  shared.pgliteWasm ??= thread.wasmModule;
  return pgliteClient(thread, release, data.dataDir === null);
}

/** The SqlClient over a PGlite thread; `release` frees the folder's lock; an in-memory one may be kept as a spare. */
function pgliteClient(thread: PgliteThread, release: () => void, inMemory: boolean): SqlClient {
  let closed = false;
  const executor = (tx?: number): SqlExecutor => ({
    query: async <R>(sql: string, params?: unknown[]) => {
      const reply = await thread.call({ op: 'query', sql, params: withoutNul(params), tx });
      return { rows: (reply.rows ?? []) as R[], rowCount: reply.rowCount ?? 0 };
    },
    exec: async (sql) => void (await thread.call({ op: 'exec', sql, tx })),
  });
  const outside = executor();
  return {
    backend: 'pglite',
    query: outside.query,
    exec: outside.exec,
    async transaction(fn) {
      const { tx } = await thread.call({ op: 'begin' });
      if (tx === undefined) throw new StoreError('the PGlite thread began no transaction');
      let value;
      try {
        value = await fn(executor(tx));
      } catch (error) {
        await thread.call({ op: 'rollback', tx }).catch(() => undefined);
        throw error;
      }
      await thread.call({ op: 'commit', tx });
      return value;
    },
    async close() {
      if (closed) return;
      closed = true;
      const spares = shared.spareThreads;
      if (inMemory && spares && spares.length < MAX_SPARE_THREADS) {
        const parked = await thread.park();
        if (parked) return void spares.push(parked);
      }
      try {
        await thread.close();
      } finally {
        release();
      }
    },
  };
}

type Call = PgliteRequest extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

interface PgliteThread {
  emptyCluster?: Uint8Array<ArrayBuffer>;
  wasmModule?: WasmModule;
  call(message: Call): Promise<PgliteOk>;
  /** Closes the database (statements already sent run first) and waits for the thread to end. */
  close(): Promise<void>;
  /** Empties the database and lets go of the thread, still running, for another store (undefined: it was closed instead). */
  park(): Promise<Worker | undefined>;
}

/**
 * The thread's module. From TypeScript sources (tests, tsx) it is required through tsx's CommonJS
 * hook (a worker's entry file itself goes to Node's loader, which refuses `.ts`).
 */
function newPgliteWorker(data: PgliteThreadData): Worker {
  // Its JavaScript only passes messages and parses rows: a 16 MB young generation (V8's default 48)
  // is ~20 MB less resident for the same CPU.
  const options = { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 16 } };
  if (!__filename.endsWith('.ts')) return new Worker(path.join(__dirname, 'pglite-thread.js'), options);
  const entry = `require(${JSON.stringify(path.join(__dirname, 'pglite-thread.ts'))});`;
  return new Worker(entry, { ...options, eval: true, execArgv: [...process.execArgv, '--require', 'tsx/cjs'] });
}

async function startPgliteThread(data: PgliteThreadData): Promise<PgliteThread> {
  const worker = newPgliteWorker(data);
  const ready = await new Promise<PgliteReady>((resolve, reject) => {
    const failed = (error: Error) => {
      worker.off('exit', exitedEarly);
      reject(error);
    };
    const exitedEarly = (code: number) => {
      worker.off('error', failed);
      reject(new StoreError(`the PGlite thread exited (${code}) while opening the database`));
    };
    worker.once('message', (m: PgliteReady) => {
      worker.off('error', failed);
      worker.off('exit', exitedEarly);
      resolve(m);
    });
    worker.once('error', failed);
    worker.once('exit', exitedEarly);
  });
  if (!ready.ready) {
    await worker.terminate();
    throw new StoreError(`PGlite could not open the database: ${ready.error.message}`, { cause: fromPortable(ready.error) });
  }
  return {
    ...(ready.emptyCluster ? { emptyCluster: ready.emptyCluster } : {}),
    ...(ready.wasmModule ? { wasmModule: ready.wasmModule } : {}),
    ...adoptPgliteWorker(worker),
  };
}

/** A store's listeners on its thread. Only these events: Worker's own newListener/removeListener hooks start its message port. */
function dropStoreListeners(worker: Worker): void {
  for (const event of ['message', 'error', 'exit']) worker.removeAllListeners(event);
}

/** Requests and replies over a PGlite thread that has opened its database (new, or a spare). */
function adoptPgliteWorker(worker: Worker): PgliteThread {
  // A spare still carries its previous store's (inert) listeners.
  dropStoreListeners(worker);
  const pending = new Map<number, { resolve: (r: PgliteOk) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let stopped: Error | undefined;
  // The thread keeps the process alive only while a request waits for it.
  const hold = () => {
    if (pending.size === 1) worker.ref();
  };
  let closing = false;
  const letGo = () => {
    if (pending.size === 0 && !closing) worker.unref();
  };
  const stop = (error: Error) => {
    stopped ??= error;
    for (const p of pending.values()) p.reject(stopped);
    pending.clear();
  };
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('message', (reply: PgliteReply) => {
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    letGo();
    if (reply.ok) p.resolve(reply);
    else p.reject(fromPortable(reply.error));
  });
  worker.on('error', (error) => stop(new StoreError(`the PGlite thread failed: ${error.message}`, { cause: error })));
  worker.on('exit', (code) => stop(new StoreError(`the PGlite thread exited (${code})`)));
  worker.unref();
  const call = (message: Call) =>
    new Promise<PgliteOk>((resolve, reject) => {
      if (stopped) return reject(stopped);
      const id = nextId++;
      pending.set(id, { resolve, reject });
      hold();
      worker.postMessage({ ...message, id });
    });
  return {
    call,
    async park() {
      if (stopped) return undefined;
      try {
        await call({ op: 'empty' });
      } catch {
        await this.close();
        return undefined;
      }
      stop(new StoreError('the store is closed'));
      dropStoreListeners(worker);
      // Parked: an error or exit now has no store to tell, and must not be an uncaught 'error'.
      worker.on('error', () => undefined);
      worker.unref();
      return worker;
    },
    async close() {
      if (stopped) return;
      // Held until the thread has ended: closing must finish before the process may exit.
      closing = true;
      worker.ref();
      await call({ op: 'close' });
      stop(new StoreError('the store is closed'));
      // The database is closed; nothing is left on the thread to wait for.
      await worker.terminate();
      await exited;
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
