/**
 * PGlite runs on a worker thread (src/store/pglite-thread.ts): what the store relies on must
 * cross the message boundary — SQLSTATE codes, the exclusivity of a transaction, rollback, and a
 * close that finishes what was sent before it. A statement text seen twice runs as a named prepared
 * statement (src/store/pglite-prepared.ts): it must answer exactly as PGlite's own `query` does.
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

  describe('a statement seen twice runs prepared, with the same answers', () => {
    beforeAll(() => db.exec('CREATE TABLE p (id int PRIMARY KEY, body jsonb, doc json, raw bytea, tags text[], at timestamptz, flag boolean, note text)'));

    it('every parameter and column type answers as on first sight', async () => {
      const insert = 'INSERT INTO p (id, body, doc, raw, tags, at, flag, note) VALUES ($1, $2::jsonb, $3::json, $4::bytea, $5::text[], $6::timestamptz, $7, $8) RETURNING *';
      const row = (id: number) => [id, JSON.stringify({ id, s: 'é\u2603' }), JSON.stringify([id]), new Uint8Array([0, id, 255]), '{"a b","c\\"d"}', '2026-12-07T10:00:00.000Z', id % 2 === 0, null];
      // First sight (PGlite's query), second (prepared now), third (bind and execute only).
      const answers = [];
      for (const id of [10, 11, 12]) answers.push((await db.query(insert, row(id))).rows[0]);
      for (const [i, answer] of answers.entries()) {
        const id = 10 + i;
        expect(answer).toEqual({ id, body: { id, s: 'é\u2603' }, doc: [id], raw: new Uint8Array([0, id, 255]), tags: ['a b', 'c"d'], at: new Date('2026-12-07T10:00:00.000Z'), flag: id % 2 === 0, note: null });
      }
      const select = 'SELECT id, flag FROM p WHERE id = ANY($1::int[]) ORDER BY id';
      const selected = [];
      for (let i = 0; i < 3; i++) selected.push(await db.query(select, [[10, 12, 99]]));
      for (const s of selected) expect(s).toEqual({ ...selected[0], rows: [{ id: 10, flag: true }, { id: 12, flag: true }] });
      const update = 'UPDATE p SET note = $1 WHERE id >= $2';
      const counts = [];
      for (let i = 0; i < 3; i++) counts.push((await db.query(update, ['n', 11])).rowCount);
      expect(counts).toEqual([2, 2, 2]);
    });

    it('a unique violation keeps its SQLSTATE and constraint, in and out of a transaction', async () => {
      const insert = 'INSERT INTO p (id) VALUES ($1)';
      await db.query(insert, [20]);
      await db.query(insert, [21]);
      const outside = await db.query(insert, [20]).catch((e: unknown) => e);
      expect(outside).toMatchObject({ code: '23505', constraint: 'p_pkey', message: expect.stringMatching(/duplicate key/) });
      const inside = await db.transaction((tx) => tx.query(insert, [21])).catch((e: unknown) => e);
      expect(inside).toMatchObject({ code: '23505', constraint: 'p_pkey' });
      // The failed statement is still prepared and works.
      await db.query(insert, [22]);
      expect((await db.query('SELECT count(*)::int AS n FROM p WHERE id BETWEEN 20 AND 22')).rows).toEqual([{ n: 3 }]);
    });

    it('a prepared statement from outside waits for an open transaction, and a rollback undoes one inside it', async () => {
      const count = 'SELECT count(*)::int AS n FROM p WHERE id = $1';
      await db.query(count, [30]);
      await db.query(count, [30]);
      let release!: () => void;
      const hold = new Promise<void>((resolve) => (release = resolve));
      const seen: string[] = [];
      const tx = db.transaction(async (t) => {
        await t.query('INSERT INTO p (id) VALUES ($1)', [30]);
        seen.push('inserted');
        await hold;
      });
      const outside = db.query<{ n: number }>(count, [30]).then((r) => seen.push(`outside saw ${r.rows[0]?.n}`));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seen).toEqual(['inserted']);
      release();
      await Promise.all([tx, outside]);
      expect(seen).toEqual(['inserted', 'outside saw 1']);
      await expect(
        db.transaction(async (t) => {
          await t.query('INSERT INTO p (id) VALUES ($1)', [31]);
          throw new Error('undo');
        }),
      ).rejects.toThrow('undo');
      expect((await db.query(count, [31])).rows).toEqual([{ n: 0 }]);
    });

    it('after a script changes a table, its prepared statements answer with the new shape', async () => {
      const all = 'SELECT * FROM p WHERE id = $1';
      await db.query(all, [10]);
      expect(Object.keys((await db.query(all, [10])).rows[0] ?? {})).not.toContain('extra');
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements')).rows[0]?.n).toBeGreaterThan(0);
      await db.exec("ALTER TABLE p ADD COLUMN extra text NOT NULL DEFAULT 'x'");
      // Deallocated, not only forgotten: an emptied test store does not carry them to the next file.
      expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_statements WHERE true')).rows[0]?.n).toBe(0);
      expect((await db.query<{ extra: string }>(all, [10])).rows[0]?.extra).toBe('x');
      // DDL sent as a single statement rather than a script does the same.
      await db.query('ALTER TABLE p ADD COLUMN more int NOT NULL DEFAULT 7');
      expect((await db.query<{ more: number }>(all, [10])).rows[0]?.more).toBe(7);
    });
  });
});
