// HPACK (RFC 7541) contexts on their own, outside a connection: for tests, benchmarks, and hosts
// that do their own framing.
import { core, mem } from './wasm.js';
import { readFields, writeFields, type FieldList } from './fields.js';
import { reasonMessage } from './reasons.js';

export class HpackError extends Error {
  constructor(readonly reason: number) {
    super(`HPACK: ${reasonMessage(reason)}`);
  }
  override get name(): string { return 'HpackError'; }
}

export class HpackDecoder {
  private id: number;
  constructor(tableSize = 4096, private listLimit = 1 << 30) {
    this.id = core.hpack_decoder_new(tableSize);
  }
  /** Decodes one header block. Throws HpackError (a COMPRESSION_ERROR) on bad input. */
  decode(block: Uint8Array, neverIndexed?: number[]): FieldList {
    const p = core.scratch(block.length);
    mem().u8.set(block, p);
    const r = core.hpack_decode(this.id, block.length, this.listLimit);
    if (r < 0) throw new HpackError(core.hpack_error(this.id));
    if (r === 1) throw new RangeError('header list larger than the limit');
    return readFields(0, core.field_count(), neverIndexed);
  }
  /** SETTINGS_HEADER_TABLE_SIZE acknowledged: the largest size update the peer may send. */
  setLimit(n: number): void { core.hpack_decoder_set_limit(this.id, n); }
  get tableSize(): number { return core.hpack_decoder_table_size(this.id); }
  destroy(): void { core.hpack_decoder_free(this.id); }
}

export class HpackEncoder {
  private id: number;
  constructor(limit = 4096) {
    this.id = core.hpack_encoder_new(limit);
  }
  /** Encodes a header list; names in `sensitive` become never-indexed literals. Returns a copy. */
  encode(fields: FieldList, sensitive?: ReadonlySet<string>): Buffer {
    const count = writeFields(fields, sensitive);
    const n = core.hpack_encode(this.id, count);
    const p = core.hpack_encoder_output() >>> 0;
    return Buffer.from(mem().buf.subarray(p, p + n));
  }
  /** The peer's SETTINGS_HEADER_TABLE_SIZE: a size update starts the next block. */
  setPeerMax(n: number): void { core.hpack_encoder_set_peer_max(this.id, n); }
  get tableSize(): number { return core.hpack_encoder_table_size(this.id); }
  destroy(): void { core.hpack_encoder_free(this.id); }
}
