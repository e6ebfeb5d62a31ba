// HTTP/1.1 body bytes on the way out, for requests and responses alike: raw (content-length or a
// tunnel) or chunked (RFC 9112 §7.1), ending with the last chunk and any trailers.
import type { Socket } from 'node:net';
import type { FieldList } from '../core/fields.js';

const CRLF = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');

/** Writes one piece of body; returns false when the socket's buffer is over `highWater`. */
export function writeBody(socket: Socket, data: Uint8Array, chunked: boolean, highWater: number): boolean {
  if (chunked) {
    socket.cork();
    socket.write(`${data.length.toString(16)}\r\n`, 'latin1');
    socket.write(data);
    socket.write(CRLF);
    socket.uncork();
  } else {
    socket.write(data);
  }
  return socket.writableLength < highWater;
}

/** Ends a chunked body: the last chunk, then trailer fields (pseudo-fields skipped). */
export function endChunked(socket: Socket, trailers?: FieldList): void {
  if (!trailers || trailers.length === 0) {
    socket.write(LAST_CHUNK);
    return;
  }
  let t = '0\r\n';
  for (let i = 0; i < trailers.length; i += 2) if (trailers[i].charCodeAt(0) !== 58) t += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
  socket.write(`${t}\r\n`, 'latin1');
}
