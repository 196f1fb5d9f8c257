/**
 * Named prepared statements for PGlite, on its thread (src/store/pglite-thread.ts). PGlite's
 * `query` parses, describes and plans every statement anew: for the store's one-statement
 * submission that was about a third of its CPU, and two thirds of a small SELECT's. A statement
 * text seen twice is prepared under a name, and later runs only bind and execute it (measured
 * here, in-process: the submission insert 2.7 → 1.9 ms of CPU, a one-row SELECT 0.4 → 0.14 ms).
 *
 * This drives PGlite's public wire-protocol surface (`protocol.serialize`, `execProtocolStream`,
 * `parse.parseResults`) under the same two locks as PGlite's own `query`: the transaction lock
 * (outside a transaction, so the statement never lands inside another caller's open one) and the
 * query lock.
 */
import { parse, protocol, type PGlite, type Results } from '@electric-sql/pglite';

/** Distinct statement texts kept prepared (the store has ~70 query sites, a few with variants); others run unnamed. */
const MAX_PREPARED = 256;
/** Texts seen once, remembered until this many (one-off texts should not take a name). */
const MAX_SEEN_ONCE = 2048;

interface Prepared {
  name: string;
  /** Parameter type oids, from PostgreSQL's description of the statement: they pick the serializers. */
  types: number[];
}

/** PGlite's transaction lock: declared on its base class, not on the `PGlite` type. */
type WithTransactionLock = PGlite & { _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T> };

export class PreparedStatements {
  private readonly prepared = new Map<string, Prepared>();
  private readonly seenOnce = new Set<string>();
  private counter = 0;

  constructor(private readonly db: PGlite) {}

  /**
   * Runs `sql`, prepared when it has been seen before; `null` when it should run through PGlite's
   * `query` instead (first sight, or the cap reached).
   */
  async query(sql: string, params: unknown[] | undefined, inTransaction: boolean): Promise<Results | null> {
    if (!this.prepared.has(sql)) {
      if (!this.seenOnce.has(sql) || this.prepared.size >= MAX_PREPARED) {
        if (this.seenOnce.size >= MAX_SEEN_ONCE) this.seenOnce.clear();
        this.seenOnce.add(sql);
        return null;
      }
    }
    const db = this.db as WithTransactionLock;
    const run = () => db.runExclusive(() => this.run(sql, params ?? [], inTransaction));
    // Inside a transaction its caller holds the transaction lock already.
    return inTransaction ? run() : db._runExclusiveTransaction(run);
  }

  /**
   * After DDL: statements may describe tables that changed. Cleared under the same locks as a run,
   * so no run sees a name that DEALLOCATE removed; names are never reused, so when DEALLOCATE fails
   * (an aborted transaction) the old statements stay valid but unused.
   */
  async forget(inTransaction: boolean): Promise<void> {
    const db = this.db as WithTransactionLock;
    const run = () =>
      db.runExclusive(async () => {
        if (this.prepared.size === 0) return;
        this.prepared.clear();
        await db.execProtocolStream(protocol.serialize.query('DEALLOCATE ALL'), { syncToFs: false }).catch(() => undefined);
      });
    return inTransaction ? run() : db._runExclusiveTransaction(run);
  }

  private async run(sql: string, params: unknown[], inTransaction: boolean): Promise<Results> {
    const { db } = this;
    const options = { syncToFs: false };
    const messages = [];
    try {
      let statement = this.prepared.get(sql);
      if (!statement) {
        const name = `pa_${++this.counter}`;
        messages.push(...(await db.execProtocolStream(protocol.serialize.parse({ name, text: sql }), options)));
        const described = await db.execProtocolStream(protocol.serialize.describe({ type: 'S', name }), options);
        statement = { name, types: parse.parseDescribeStatementResults(described) };
        this.prepared.set(sql, statement);
        this.seenOnce.delete(sql);
      }
      const { types } = statement;
      // As PGlite's `query` serializes: by the parameter's type, else its text.
      const values = params.map((value, i) => {
        if (value === null || value === undefined) return null;
        const serialize = db.serializers[types[i] ?? 0];
        return serialize ? serialize(value) : String(value);
      });
      messages.push(...(await db.execProtocolStream(protocol.serialize.bind({ statement: statement.name, values }), options)));
      messages.push(...(await db.execProtocolStream(protocol.serialize.describe({ type: 'P' }), options)));
      messages.push(...(await db.execProtocolStream(protocol.serialize.execute({}), options)));
    } finally {
      messages.push(...(await db.execProtocolStream(protocol.serialize.sync(), options)));
    }
    if (!inTransaction) await db.syncToFs();
    const [result] = parse.parseResults(messages, db.parsers);
    if (!result) throw new Error('PGlite returned no result');
    return result;
  }
}
