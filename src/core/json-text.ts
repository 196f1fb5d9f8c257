/**
 * JSON text of a large value without holding the event loop: `JSON.stringify` of a 1,000-item
 * Claim's 6.3 MB answer was one 60–100 ms block, during which no other request was served, and
 * `Buffer.from` of that text (to compress or send it) another 20–30 ms.
 */
import { SLICE_MS, timeSlices } from './promises';

/** Arrays this long, this near the top, are written in runs of this many elements, with pauses between. */
const LONG_ARRAY = 64;
const MAX_DEPTH = 5;

/**
 * `JSON.stringify(value)`'s text: as a string when its UTF-8 is shorter than `bytesFrom` bytes,
 * otherwise as those bytes. A value without a long array near its top (a typical request or
 * answer) is one `JSON.stringify`. One with long arrays is written and encoded a run of elements
 * at a time, with a pause for the event loop whenever `sliceMs` of that has passed; each run goes
 * straight to bytes, so the whole text is never held as one string (a note's dash makes it
 * two-byte: twice the size, and joining and encoding it cost more than writing it).
 * For JSON data: plain objects and arrays, strings, numbers, booleans, null; anything else (an
 * object with `toJSON`, a class instance) is written by `JSON.stringify` whole.
 */
export async function serializeInSlices(value: unknown, bytesFrom: number, sliceMs = SLICE_MS): Promise<string | Buffer> {
  if (!hasLongArray(value, 0)) {
    const text = JSON.stringify(value);
    return Buffer.byteLength(text) < bytesFrom ? text : Buffer.from(text);
  }
  const bytes = Buffer.concat(await jsonPieces(value, sliceMs));
  return bytes.length < bytesFrom ? bytes.toString() : bytes;
}

/**
 * The JSON text's UTF-8 in pieces, in order, of a value that holds a long array; only the containers
 * on the way to a long array are taken apart. Each value is checked for one once, by its container.
 */
async function jsonPieces(value: unknown, sliceMs: number): Promise<Buffer[]> {
  const pieces: Buffer[] = [];
  const text = (s: string) => pieces.push(Buffer.from(s));
  const slices = timeSlices(sliceMs);
  /** `v` holds a long array (`hasLongArray(v, depth)`). */
  const write = async (v: unknown, depth: number): Promise<void> => {
    if (Array.isArray(v)) {
      text('[');
      // Elements go in runs of up to LONG_ARRAY, one JSON.stringify per run, its brackets cut from
      // the bytes (what has no JSON form is null in it, as JSON.stringify writes it); one that
      // holds a long array itself is taken apart.
      let start = 0;
      const flush = (end: number) => {
        if (end > start) {
          if (start > 0) text(',');
          const run = Buffer.from(JSON.stringify(v.slice(start, end)));
          pieces.push(run.subarray(1, run.length - 1));
        }
        start = end;
      };
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (hasLongArray(item, depth + 1)) {
          flush(i);
          if (i > 0) text(',');
          await write(item, depth + 1);
          start = i + 1;
        } else if (i + 1 - start >= LONG_ARRAY) {
          flush(i + 1);
        } else {
          continue;
        }
        if (slices.due()) await slices.pause();
      }
      flush(v.length);
      text(']');
      return;
    }
    text('{');
    let first = true;
    for (const [key, item] of Object.entries(v as object)) {
      // ...and is left out of an object.
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      text(`${first ? '' : ','}${JSON.stringify(key)}:`);
      first = false;
      if (hasLongArray(item, depth + 1)) await write(item, depth + 1);
      else text(JSON.stringify(item));
    }
    text('}');
  };
  await write(value, 0);
  return pieces;
}

function isPlain(v: object): boolean {
  if (Array.isArray(v)) return true;
  const proto: unknown = Object.getPrototypeOf(v);
  return (proto === Object.prototype || proto === null) && typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}

function hasLongArray(v: unknown, depth: number): boolean {
  if (depth >= MAX_DEPTH || typeof v !== 'object' || v === null || !isPlain(v)) return false;
  if (Array.isArray(v)) return v.length >= LONG_ARRAY || v.some((item) => hasLongArray(item, depth + 1));
  return Object.values(v).some((item) => hasLongArray(item, depth + 1));
}
