// The public library API: what other Node gateways import from 'skiff'.
export { H2Connection, H2Error, MessageKind, SubmitError, describeError } from './core/h2-connection.js';
export type { H2Handler, H2Options, Role } from './core/h2-connection.js';
export { HpackDecoder, HpackEncoder, HpackError } from './core/hpack.js';
export { FIELD_SENSITIVE, FIELD_NO_INDEX } from './core/fields.js';
export type { FieldList } from './core/fields.js';
export { ErrorCode, Reason, errorCodeName, reasonMessage } from './core/reasons.js';
export { CoreAbort } from './core/wasm.js';
export { startProxy, ConfigRejected } from './proxy.js';
export type { ProxyOptions, RunningProxy } from './proxy.js';
export { H2Session, H2Stream, StreamResetError } from './transport/h2-session.js';
export type { H2SessionOptions, StreamHandler } from './transport/h2-session.js';
export { loadDirectory, DirectorySource } from './config/directory.js';
export { ConfigError } from './config/objects.js';
export { RouteTable, RouteTableError } from './library/route-table.js';
export type { RouteParent, RouteRequest, RouteMatch } from './library/route-table.js';
export type { BackendRef, RouteFilter, RouteRule } from './route/model.js';
