/**
 * JSON text of a large value without holding the event loop: `JSON.stringify` of a 1,000-item
 * Claim's 6.3 MB answer was one 60–100 ms block, during which no other request was served, and
 * `Buffer.from` of that text (to compress or send it) another 20–30 ms.
 */
import { timeSlices } from './promises';

/** Arrays this long, this near the top, are written in runs of this many elements, with pauses between. */
const LONG_ARRAY = 64;
const MAX_DEPTH = 5;
/** Characters of text encoded to UTF-8 per `Buffer.from` call (~1 ms for two-byte text). */
const ENCODE_CHARS = 256 * 1024;

/**
 * `JSON.stringify(value)`, the same text, with a pause for the event loop whenever `sliceMs` of
 * writing has passed. A value without a long array near its top (a typical request or answer) is
 * one `JSON.stringify`. For JSON data: plain objects and arrays, strings, numbers, booleans, null;
 * anything else (an object with `toJSON`, a class instance) is written by `JSON.stringify` whole.
 */
export async function stringifyInSlices(value: unknown, sliceMs = 8): Promise<string> {
  const parts = await jsonParts(value, sliceMs);
  return parts.length === 1 ? (parts[0] as string) : parts.join('');
}

/**
 * The same JSON text, as a string when it is shorter than `bytesFrom` characters, and otherwise as
 * its UTF-8 bytes, encoded a slice at a time: what is long is compressed or sent as bytes anyway,
 * and the whole text is never held as one string.
 */
export async function serializeInSlices(value: unknown, bytesFrom: number, sliceMs = 8): Promise<string | Buffer> {
  const parts = await jsonParts(value, sliceMs);
  let chars = 0;
  for (const part of parts) chars += part.length;
  if (chars < bytesFrom) return parts.length === 1 ? (parts[0] as string) : parts.join('');
  const buffers: Buffer[] = [];
  const slices = timeSlices(sliceMs);
  for (let i = 0; i < parts.length; ) {
    let end = i;
    let run = 0;
    while (end < parts.length && (end === i || run + (parts[end] as string).length <= ENCODE_CHARS)) run += (parts[end++] as string).length;
    buffers.push(Buffer.from(end - i === 1 ? (parts[i] as string) : parts.slice(i, end).join('')));
    i = end;
    if (slices.due()) await slices.pause();
  }
  return Buffer.concat(buffers);
}

/** The JSON text in pieces, in order; only the containers on the way to a long array are taken apart. */
async function jsonParts(value: unknown, sliceMs: number): Promise<string[]> {
  const parts: string[] = [];
  const slices = timeSlices(sliceMs);
  const write = async (v: unknown, depth: number): Promise<void> => {
    if (!hasLongArray(v, depth)) {
      parts.push(JSON.stringify(v));
      return;
    }
    if (Array.isArray(v)) {
      parts.push('[');
      // Elements go in runs of up to LONG_ARRAY, one JSON.stringify per run (what has no JSON form
      // is null in it, as JSON.stringify writes it); one that holds a long array itself is taken apart.
      let start = 0;
      const flush = (end: number) => {
        if (end > start) parts.push(`${start > 0 ? ',' : ''}${JSON.stringify(v.slice(start, end)).slice(1, -1)}`);
        start = end;
      };
      for (let i = 0; i < v.length; i++) {
        const item: unknown = v[i];
        if (hasLongArray(item, depth + 1)) {
          flush(i);
          if (i > 0) parts.push(',');
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
      parts.push(']');
      return;
    }
    parts.push('{');
    let first = true;
    for (const [key, item] of Object.entries(v as object)) {
      // ...and is left out of an object.
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      parts.push(`${first ? '' : ','}${JSON.stringify(key)}:`);
      first = false;
      await write(item, depth + 1);
    }
    parts.push('}');
  };
  await write(value, 0);
  return parts;
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
