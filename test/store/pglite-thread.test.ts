/**
 * PGlite runs on a worker thread (src/store/pglite-thread.ts): what the store relies on must
 * cross the message boundary — SQLSTATE codes, the exclusivity of a transaction, rollback, and a
 * close that finishes what was sent before it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isUniqueViolation, openPglite, type SqlClient } from '../../src/store/sql';

describe('PGlite on its own thread', () => {
  let db: SqlClient;
  beforeAll(async () => {
    db = await openPglite('memory://');
    await db.exec('CREATE TABLE t (id int PRIMARY KEY, body jsonb, at timestamptz NOT NULL DEFAULT now())');
  });
  afterAll(() => db.close());

  it('returns rows with JSON parsed and timestamps as dates', async () => {
    await db.query('INSERT INTO t (id, body) VALUES ($1, $2::jsonb)', [1, JSON.stringify({ a: [1, 'x\u00e9'] })]);
    const { rows } = await db.query<{ id: number; body: unknown; at: unknown }>('SELECT id, body, at FROM t WHERE id = 1');
    expect(rows).toHaveLength(1);
    expect(rows[0]?.body).toEqual({ a: [1, 'x\u00e9'] });
    expect(Object.prototype.toString.call(rows[0]?.at)).toBe('[object Date]');
  });

  it('a unique violation keeps its SQLSTATE and constraint, in and out of a transaction', async () => {
    const outside = await db.query('INSERT INTO t (id) VALUES (1)').catch((e: unknown) => e);
    expect(isUniqueViolation(outside)).toBe(true);
    expect(outside).toMatchObject({ code: '23505', constraint: 't_pkey', message: expect.stringMatching(/duplicate key/) });
    const inside = await db.transaction((tx) => tx.query('INSERT INTO t (id) VALUES (1)')).catch((e: unknown) => e);
    expect(isUniqueViolation(inside)).toBe(true);
  });

  it('a transaction holds the database: a statement from outside waits for its commit', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const hold = new Promise<void>((resolve) => (release = resolve));
    const tx = db.transaction(async (t) => {
      await t.query('INSERT INTO t (id) VALUES (2)');
      seen.push('inserted');
      await hold;
      seen.push('committing');
    });
    // Sent while the transaction is open; answered only after it commits.
    const outside = db.query<{ n: number }>('SELECT count(*)::int AS n FROM t WHERE id = 2').then((r) => {
      seen.push(`outside saw ${r.rows[0]?.n}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen).toEqual(['inserted']);
    release();
    await Promise.all([tx, outside]);
    expect(seen).toEqual(['inserted', 'committing', 'outside saw 1']);
  });

  it('rolls back when the function throws and rethrows its error', async () => {
    const boom = new Error('boom');
    await expect(
      db.transaction(async (t) => {
        await t.query('INSERT INTO t (id) VALUES (3)');
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect((await db.query('SELECT 1 FROM t WHERE id = 3')).rows).toHaveLength(0);
    // The database is free again.
    expect((await db.query<{ x: number }>('SELECT 1 AS x')).rows).toEqual([{ x: 1 }]);
  });

  it('close finishes the statements sent before it; a folder reopened has them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-pglite-thread-'));
    try {
      const first = await openPglite(dir);
      await first.exec('CREATE TABLE w (id int PRIMARY KEY)');
      // Not awaited before close: acknowledged once close resolves.
      const writes = Array.from({ length: 20 }, (_, i) => first.query('INSERT INTO w (id) VALUES ($1)', [i]));
      await first.close();
      await Promise.all(writes);
      await expect(first.query('SELECT 1')).rejects.toThrow(/closed/);
      expect(fs.existsSync(path.join(dir, 'pa-server.lock'))).toBe(false);

      const second = await openPglite(dir);
      try {
        expect((await second.query<{ n: number }>('SELECT count(*)::int AS n FROM w')).rows).toEqual([{ n: 20 }]);
      } finally {
        await second.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    // initdb on disk: slow on a shared 2-core machine.
  }, 120_000);
});
