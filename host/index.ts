// The public library API: what other Node gateways import from 'skiff'.
export { H2Connection, H2Error, MessageKind, SubmitError, describeError } from './core/h2-connection.js';
export type { H2Handler, H2Options, Role } from './core/h2-connection.js';
export { HpackDecoder, HpackEncoder, HpackError } from './core/hpack.js';
export { FIELD_SENSITIVE, FIELD_NO_INDEX } from './core/fields.js';
export type { FieldList } from './core/fields.js';
export { ErrorCode, Reason, errorCodeName, reasonMessage } from './core/reasons.js';
export { CoreAbort } from './core/wasm.js';
