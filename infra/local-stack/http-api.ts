// The local stand-in for API Gateway's HTTP API: an HTTP server on 127.0.0.1 that turns each request into a
// payload-format-2.0 event, invokes the API function through the local Lambda (a worker process running the real
// handler), and writes back its response. Lambda errors become API Gateway's 500 `{"message":"Internal Server
// Error"}`, throttling its 429, as on AWS.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { LocalLambda } from './lambda-server.ts';

/** API Gateway's request payload limit. */
const MAX_BODY = 10 * 1024 * 1024;

export class LocalHttpApi {
  private constructor(
    private readonly server: http.Server,
    readonly endpoint: string,
  ) {}

  static async start(lambda: LocalLambda, functionName: string, port = 0): Promise<LocalHttpApi> {
    const server = http.createServer((req, res) => {
      void handle(lambda, functionName, req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    const { port: bound } = server.address() as AddressInfo;
    return new LocalHttpApi(server, `http://127.0.0.1:${bound}`);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function send(res: http.ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

async function handle(lambda: LocalLambda, fn: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) return send(res, 413, JSON.stringify({ message: 'Request Entity Too Large' }));
    chunks.push(c as Buffer);
  }
  const body = Buffer.concat(chunks);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  const text = body.toString('utf8');
  const binary = !Buffer.from(text, 'utf8').equals(body);
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    requestContext: {
      http: { method: req.method ?? 'GET', path: url.pathname, sourceIp: req.socket.remoteAddress ?? '127.0.0.1', protocol: 'HTTP/1.1', userAgent: headers['user-agent'] ?? '' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      timeEpoch: Date.now(),
    },
    body: body.length === 0 ? undefined : binary ? body.toString('base64') : text,
    isBase64Encoded: binary,
  };
  const outcome = await lambda.invoke(fn, JSON.stringify(event));
  if (outcome === null) return send(res, 429, JSON.stringify({ message: 'Too Many Requests' }));
  if (!outcome.ok) return send(res, 500, JSON.stringify({ message: 'Internal Server Error' }));
  let r: { statusCode?: number; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean };
  try {
    r = JSON.parse(outcome.payload) as typeof r;
  } catch {
    return send(res, 500, JSON.stringify({ message: 'Internal Server Error' }));
  }
  const out = r.isBase64Encoded ? Buffer.from(r.body ?? '', 'base64') : Buffer.from(r.body ?? '', 'utf8');
  res.writeHead(r.statusCode ?? 200, { ...(r.headers ?? {}), 'content-length': out.length });
  res.end(out);
}
