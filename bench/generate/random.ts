/**
 * Seeded PRNG (xoshiro128**) for the benchmark generators. Every random choice in bench/generate
 * goes through this so that one seed gives byte-identical output on every platform: no
 * Math.random, no Date.now, no iteration over hash-ordered containers.
 */

/** 32-bit FNV-1a, used to turn a label into a seed component. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32 step: spreads a seed over the 128-bit state so nearby seeds give unrelated streams. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  /** The material this stream was seeded from; `child()` derives from it, not from the state. */
  private readonly material: number;

  constructor(seed: number | string) {
    this.material = typeof seed === 'string' ? fnv1a(seed) : (Math.trunc(seed) ^ 0x5bd1e995) >>> 0;
    const sm = { s: this.material };
    this.a = splitmix32(sm);
    this.b = splitmix32(sm);
    this.c = splitmix32(sm);
    this.d = splitmix32(sm);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /**
   * An independent stream named by `label`. It depends only on this stream's seed and the label,
   * not on how many numbers were drawn, so adding a draw in one component does not reshuffle others.
   */
  child(label: string | number): Rng {
    return new Rng(`${this.material}/${label}`);
  }

  /** Uniform uint32. */
  next(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick: empty list');
    return items[Math.floor(this.float() * items.length)] as T;
  }

  /** Picks from `[weight, value]` pairs. */
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    let total = 0;
    for (const [w] of choices) total += w;
    let r = this.float() * total;
    for (const [w, v] of choices) {
      r -= w;
      if (r < 0) return v;
    }
    return (choices[choices.length - 1] as readonly [number, T])[1];
  }

  /** Exponentially distributed with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  /** Log-normal: exp(N(mu, sigma)), via Box-Muller. */
  logNormal(mu: number, sigma: number): number {
    const u1 = 1 - this.float();
    const u2 = this.float();
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    return Math.exp(mu + sigma * z);
  }

  /** Lower-case hex string of `length` digits. */
  hex(length: number): string {
    if (length > 64) return this.bytes(Math.ceil(length / 2)).toString('hex').slice(0, length);
    let out = '';
    while (out.length < length) out += (this.next() >>> 0).toString(16).padStart(8, '0');
    return out.length === length ? out : out.slice(0, length);
  }

  /** `count` random bytes. */
  bytes(count: number): Buffer {
    const buf = Buffer.allocUnsafe(count);
    this.fill(buf);
    return buf;
  }

  /** String of `length` characters drawn from `alphabet`. */
  chars(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet[Math.floor(this.float() * alphabet.length)];
    return out;
  }

  /** Fills a buffer with random bytes. */
  fill(buf: Uint8Array): Uint8Array {
    const words = Math.floor(buf.length / 4);
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let i = 0; i < words; i++) view.setUint32(i * 4, this.next(), true);
    for (let i = words * 4; i < buf.length; i++) buf[i] = this.next() & 0xff;
    return buf;
  }

  /** Shuffles in place (Fisher-Yates). */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.float() * (i + 1));
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
