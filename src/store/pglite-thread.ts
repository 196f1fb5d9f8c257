/**
 * PGlite on its own thread: PostgreSQL compiled to WebAssembly runs every statement synchronously
 * on the thread that calls it, so in the server's process it took about half of the event loop's
 * time per `$submit`. This worker owns one database; the main thread speaks to it with the
 * messages below (src/store/sql.ts, `openPglite`). Statements run in arrival order; a transaction
 * holds the database until the main thread commits or rolls it back (PGlite's own lock), and
 * queries outside it wait, as they did in-process.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite, type PGliteOptions, type Transaction } from '@electric-sql/pglite';
import { nameThread } from '../ops/thread-name';
import { PreparedStatements } from './pglite-prepared';

export interface PgliteThreadData {
  /** A data folder, or null for an in-memory database. */
  dataDir: string | null;
  /** The empty cluster to load: in memory (absent: run initdb here and send its dump back), or into a new folder. */
  emptyCluster?: Uint8Array<ArrayBuffer>;
  /** Added to PGlite's default start parameters. */
  startParams: string[];
  /** PostgreSQL type oids whose text is JSON, parsed here so the main thread receives objects. */
  jsonOids: number[];
  /** PGlite's WebAssembly, compiled by an earlier thread of this process (absent: compiled here and sent back). */
  wasmModule?: WasmModule;
}

/** PGlite's compiled WebAssembly (a WebAssembly.Module: it crosses threads without a copy). */
export type WasmModule = NonNullable<PGliteOptions['pgliteWasmModule']>;

/** The global WebAssembly, typed here: the build's lib (ES2022, node) does not declare it. */
const wasm = (globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WasmModule> } }).WebAssembly;

export type PgliteRequest =
  | { id: number; op: 'query'; sql: string; params?: unknown[] | undefined; tx?: number | undefined }
  | { id: number; op: 'exec'; sql: string; tx?: number | undefined }
  | { id: number; op: 'begin' }
  | { id: number; op: 'commit' | 'rollback'; tx: number }
  | { id: number; op: 'close' }
  /** Tests: back to the empty cluster (every table dropped), for the next in-memory store. */
  | { id: number; op: 'empty' };

/** What crosses for a failed request: the message and PostgreSQL's fields (`code` = SQLSTATE). */
export interface PortableError {
  name: string;
  message: string;
  fields: Record<string, string | number | boolean>;
}

export interface PgliteOk {
  ok: true;
  rows?: unknown[];
  rowCount?: number;
  /** begin: the transaction's number. */
  tx?: number;
}

export type PgliteReply = ({ id: number } & PgliteOk) | { id: number; ok: false; error: PortableError };

export type PgliteReady =
  | { ready: true; emptyCluster?: Uint8Array<ArrayBuffer>; wasmModule?: WasmModule }
  | { ready: false; error: PortableError };

function portable(error: unknown): PortableError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields: PortableError['fields'] = {};
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[key] = value;
  }
  return { name: error.name, message: error.message, fields };
}

/** A transaction the main thread has open: PGlite's callback waits until commit or rollback. */
interface OpenTransaction {
  tx: Transaction;
  end: { resolve: () => void; reject: (reason: unknown) => void };
  /** PGlite's COMMIT (or ROLLBACK) outcome. */
  settled: Promise<void>;
}

const ROLLBACK = Symbol('rollback');
/** A statement that may change what prepared statements describe (run as a query rather than a script). */
const DDL = /^\s*(CREATE|ALTER|DROP|TRUNCATE|COMMENT|GRANT|REVOKE)\b/i;
const BYTEA_OID = 17;

/**
 * PGlite's WebAssembly, compiled once per process: the main thread keeps the module and hands it to
 * the next thread, which then skips the compilation (seconds of CPU for every store a test opens).
 */
async function compiledPglite(data: PgliteThreadData): Promise<{ module: WasmModule; compiledHere: boolean }> {
  if (data.wasmModule) return { module: data.wasmModule, compiledHere: false };
  const file = path.join(path.dirname(require.resolve('@electric-sql/pglite')), 'pglite.wasm');
  return { module: await wasm.compile(await fs.promises.readFile(file)), compiledHere: true };
}

interface Opened {
  db: PGlite;
  emptyCluster?: Uint8Array<ArrayBuffer>;
  wasmModule?: WasmModule;
}

async function open(data: PgliteThreadData): Promise<Opened> {
  const parsers = {
    ...Object.fromEntries(data.jsonOids.map((oid) => [oid, (text: string) => JSON.parse(text) as unknown])),
    [BYTEA_OID]: (text: string) => new Uint8Array(Buffer.from(text.slice(2), 'hex')),
  };
  // PGlite's own bytea (de)serializers build one string per byte: ~40 ms for a 140 KB gzipped Bundle.
  const serializers = { [BYTEA_OID]: (bytes: Uint8Array) => `\\x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')}` };
  const startParams = [...PGlite.defaultStartParams, ...data.startParams];
  const { module, compiledHere } = await compiledPglite(data);
  const options = { parsers, serializers, startParams, pgliteWasmModule: module };
  const sent = compiledHere ? { wasmModule: module } : {};
  if (data.dataDir !== null) {
    // A new folder given the empty cluster: PGlite unpacks it there instead of running initdb.
    const load = data.emptyCluster ? { loadDataDir: new Blob([data.emptyCluster]) } : {};
    return { db: await PGlite.create(data.dataDir, { ...options, ...load }), ...sent };
  }
  let dump = data.emptyCluster;
  let made: Uint8Array<ArrayBuffer> | undefined;
  if (!dump) {
    const seed = await PGlite.create({ pgliteWasmModule: module });
    try {
      made = dump = new Uint8Array(await (await seed.dumpDataDir('none')).arrayBuffer());
    } finally {
      await seed.close();
    }
  }
  const db = await PGlite.create({ loadDataDir: new Blob([dump]), ...options });
  return { db, ...sent, ...(made ? { emptyCluster: made } : {}) };
}

async function serve(db: PGlite): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('pglite-thread runs as a worker thread');
  const transactions = new Map<number, OpenTransaction>();
  const inFlight = new Set<Promise<unknown>>();
  /** Transactions begun and not yet committed or rolled back. */
  const pending = new Set<Promise<void>>();
  let nextTx = 1;
  let closing = false;
  const prepared = new PreparedStatements(db);

  const executor = (tx: number | undefined): Pick<PGlite, 'query' | 'exec'> => {
    if (tx === undefined) return db;
    const open = transactions.get(tx);
    if (!open) throw new Error(`transaction ${tx} is not open`);
    return open.tx;
  };

  const begin = (id: number): void => {
    const txId = nextTx++;
    let end!: OpenTransaction['end'];
    const ended = new Promise<void>((resolve, reject) => (end = { resolve, reject }));
    let begun = false;
    const done = db.transaction(async (tx) => {
      begun = true;
      transactions.set(txId, { tx, end, settled });
      // begin answers from inside PGlite's transaction: the database is now this transaction's.
      port.postMessage({ id, ok: true, tx: txId } satisfies PgliteReply);
      await ended;
    });
    const settled: Promise<void> = done.then(
      () => undefined,
      (error: unknown) => {
        if (error === ROLLBACK) return;
        // BEGIN itself failed: the begin request gets the error.
        if (!begun) port.postMessage({ id, ok: false, error: portable(error) } satisfies PgliteReply);
        else throw error;
      },
    );
    // Awaited by commit/rollback (which report its error); close waits for it.
    pending.add(settled);
    void settled
      .catch(() => undefined)
      .then(() => {
        transactions.delete(txId);
        pending.delete(settled);
      });
  };

  const handle = async (m: PgliteRequest): Promise<PgliteOk | null> => {
    switch (m.op) {
      case 'query': {
        const inTransaction = m.tx !== undefined;
        const ddl = DDL.test(m.sql);
        const on = executor(m.tx);
        const result = (ddl ? null : await prepared.query(m.sql, m.params, inTransaction)) ?? (await on.query(m.sql, m.params));
        if (ddl) await prepared.forget(inTransaction);
        return { ok: true, rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
      }
      case 'exec': {
        // A script (migrations, DDL): prepared statements may describe what it changed.
        const on = executor(m.tx);
        await on.exec(m.sql);
        await prepared.forget(m.tx !== undefined);
        return { ok: true };
      }
      case 'begin':
        if (closing) throw new Error('the store is closing');
        begin(m.id);
        return null;
      case 'commit':
      case 'rollback': {
        const open = transactions.get(m.tx);
        if (!open) throw new Error(`transaction ${m.tx} is not open`);
        if (m.op === 'commit') open.end.resolve();
        else open.end.reject(ROLLBACK);
        await open.settled;
        return { ok: true };
      }
      case 'empty': {
        if (transactions.size > 0 || pending.size > 0) throw new Error('a transaction is open');
        await Promise.allSettled([...inFlight]);
        await db.exec('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
        await prepared.forget(false);
        return { ok: true };
      }
      case 'close': {
        closing = true;
        // A transaction still open was never acknowledged: roll it back, finish what runs, close.
        for (const open of transactions.values()) open.end.reject(ROLLBACK);
        await Promise.allSettled([...inFlight, ...pending]);
        await db.close();
        return { ok: true };
      }
    }
  };

  port.on('message', (m: PgliteRequest) => {
    const work = handle(m).then(
      (reply) => {
        if (reply) port.postMessage({ id: m.id, ...reply } as PgliteReply);
      },
      (error: unknown) => port.postMessage({ id: m.id, ok: false, error: portable(error) } satisfies PgliteReply),
    );
    if (m.op !== 'close') {
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    }
  });
}

nameThread('pa-pglite');
const data = workerData as PgliteThreadData;
open(data).then(
  async ({ db, ...made }) => {
    await serve(db);
    parentPort?.postMessage({ ready: true, ...made } satisfies PgliteReady);
  },
  (error: unknown) => parentPort?.postMessage({ ready: false, error: portable(error) } satisfies PgliteReady),
);
