// The shapes of API Gateway's HTTP API (payload format 2.0) that the API handler takes and returns, and small
// response helpers. The local stack's HTTP front (infra/local-stack/http-api.ts) builds the same events.

export interface HttpApiEvent {
  readonly version: '2.0';
  readonly routeKey: string;
  readonly rawPath: string;
  readonly rawQueryString: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly queryStringParameters?: Readonly<Record<string, string | undefined>>;
  readonly pathParameters?: Readonly<Record<string, string | undefined>>;
  readonly requestContext: {
    readonly http: { readonly method: string; readonly path: string; readonly sourceIp?: string };
    readonly requestId?: string;
    readonly timeEpoch?: number;
  };
  readonly body?: string;
  readonly isBase64Encoded: boolean;
}

export interface HttpApiResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly isBase64Encoded?: boolean;
}

export function json(statusCode: number, value: unknown, headers: Record<string, string> = {}): HttpApiResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/** An error response: `{ error: { code, message } }`. */
export function problem(statusCode: number, code: string, message: string, headers: Record<string, string> = {}): HttpApiResponse {
  return json(statusCode, { error: { code, message } }, headers);
}

/** An error that becomes an HTTP answer (thrown by route handlers, caught by the router). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function header(event: HttpApiEvent, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(event.headers ?? {})) if (k.toLowerCase() === want) return v;
  return undefined;
}

export function query(event: HttpApiEvent): Record<string, string> {
  if (event.queryStringParameters) {
    return Object.fromEntries(Object.entries(event.queryStringParameters).filter((e): e is [string, string] => e[1] !== undefined));
  }
  return Object.fromEntries(new URLSearchParams(event.rawQueryString ?? ''));
}

export function bodyText(event: HttpApiEvent): string {
  if (event.body === undefined || event.body === null) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}
