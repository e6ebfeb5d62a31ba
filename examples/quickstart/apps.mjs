// The quickstart's demo applications. They know nothing of Skiff: they call other services by
// their Kubernetes names through their sidecar's outbound address, as a meshed pod would.
import http from 'node:http';
import http2 from 'node:http2';
import grpc from '@grpc/grpc-js';

const id = (b) => b;
export const AuthorsService = {
  get: { path: '/quickstart.Authors/Get', requestStream: false, responseStream: false,
    requestSerialize: id, requestDeserialize: id, responseSerialize: id, responseDeserialize: id },
};
const AuthorsClient = grpc.makeGenericClientConstructor(AuthorsService, 'Authors');

const BOOKS = [
  { id: 'earthsea', title: 'A Wizard of Earthsea' },
  { id: 'dispossessed', title: 'The Dispossessed' },
  { id: 'kindred', title: 'Kindred' },
];
const AUTHORS = { earthsea: 'Ursula K. Le Guin', dispossessed: 'Ursula K. Le Guin', kindred: 'Octavia E. Butler' };

/** books: an HTTP/2 (h2c) JSON service. */
export function startBooks(port) {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    if (headers[':path'] === '/books') {
      stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-seen-via': headers.via ?? '' });
      stream.end(JSON.stringify(BOOKS));
    } else {
      stream.respond({ ':status': 404 });
      stream.end();
    }
  });
  return new Promise((r) => server.listen(port, '127.0.0.1', () => r(server)));
}

/** authors: a gRPC service. */
export function startAuthors(port) {
  const server = new grpc.Server();
  server.addService(AuthorsService, {
    get: (call, cb) => {
      const name = AUTHORS[call.request.toString()];
      if (name) cb(null, Buffer.from(name));
      else cb({ code: grpc.status.NOT_FOUND, details: `no author for ${call.request}` });
    },
  });
  return new Promise((res, rej) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res(server))));
}

/** frontend: HTTP/1.1; for GET / it asks books (HTTP/2) and authors (gRPC) through its sidecar. */
export function startFrontend(port, sidecarOutbound) {
  let books = null;
  const authors = new AuthorsClient(sidecarOutbound, grpc.credentials.createInsecure(), { 'grpc.default_authority': 'authors.default.svc.cluster.local:50051' });
  const h2 = () => {
    if (!books || books.closed || books.destroyed) {
      books = http2.connect(`http://${sidecarOutbound}`);
      books.on('error', () => { books = null; });
    }
    return books;
  };
  const listBooks = () => new Promise((resolve, reject) => {
    const req = h2().request({ ':path': '/books', ':authority': 'books.default.svc.cluster.local' });
    let body = '';
    let status = 0;
    req.on('response', (h) => { status = h[':status']; });
    req.on('data', (c) => { body += c; });
    req.on('end', () => (status === 200 ? resolve(JSON.parse(body)) : reject(new Error(`books answered ${status}: ${body}`))));
    req.on('error', reject);
    req.end();
  });
  const author = (bookId) => new Promise((resolve, reject) =>
    authors.get(Buffer.from(bookId), (e, r) => (e ? reject(e) : resolve(r.toString()))));
  const server = http.createServer(async (req, res) => {
    try {
      const list = await listBooks();
      const names = await Promise.all(list.map((b) => author(b.id)));
      const page = list.map((b, i) => ({ title: b.title, author: names[i] }));
      res.writeHead(200, { 'content-type': 'application/json', 'x-seen-via': req.headers.via ?? '', 'x-seen-caller': req.headers['skiff-client-id'] ?? '' });
      res.end(JSON.stringify(page));
    } catch (err) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`frontend could not build its page: ${err.message}\n`);
    }
  });
  server.closeAll = () => { authors.close(); books?.close(); };
  return new Promise((r) => server.listen(port, '127.0.0.1', () => r(server)));
}
