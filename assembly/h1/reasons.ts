// Why an HTTP/1.1 message was refused (EV_H1_ERROR's reason). Numbered from 60 so they never
// collide with the HTTP/2 reasons; host/core/reasons.ts names them.
export const TRUNCATED: i32 = 60;              // the connection ended inside a message
export const URI_TOO_LONG: i32 = 61;
export const HEAD_TOO_LARGE: i32 = 62;
export const OBS_FOLD: i32 = 63;               // a field line continued on the next (RFC 9112 §5.2)
export const BAD_FIELD_NAME: i32 = 64;
export const SPACE_BEFORE_COLON: i32 = 65;     // RFC 9112 §5.1
export const BAD_FIELD_VALUE: i32 = 66;        // control character in a value
export const BARE_CR_LF: i32 = 67;             // CR or LF not as CRLF
export const TOO_MANY_FIELDS: i32 = 68;
export const BAD_REQUEST_LINE: i32 = 69;
export const BAD_VERSION: i32 = 70;            // not HTTP/1.0 or HTTP/1.1
export const BAD_STATUS_LINE: i32 = 71;
export const BAD_CONTENT_LENGTH: i32 = 72;
export const UNSUPPORTED_TRANSFER_CODING: i32 = 73;
export const TE_AND_CONTENT_LENGTH: i32 = 74;  // RFC 9112 §6.3: a smuggling vector; refused
export const TE_IN_HTTP10: i32 = 75;
export const MISSING_HOST: i32 = 76;
export const MULTIPLE_HOST: i32 = 77;
export const BAD_CHUNK: i32 = 78;
