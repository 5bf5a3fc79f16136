// The inference worker's container entry point: functions/inference-worker.ts behind the Lambda Invoke REST call
// (`POST /2015-03-31/functions/<name>/invocations`), so the coordinator reaches a GPU container with the same
// LambdaInvoker it uses for Lambda (SQUALL_INFERENCE_FUNCTION + SQUALL_INFERENCE_ENDPOINT). The handler runs in
// this process, one task at a time per container by default (a GPU is best fed by one model runner), and
// keeps loaded models across tasks. `GET /health` answers 200 for the load balancer's health check.
//
//   SQUALL_INFERENCE_PORT         port (8080)
//   SQUALL_INFERENCE_CONCURRENCY  tasks run at once in this container (1); more are answered 429 (throttled:
//                                 the coordinator backs off without using up the task's retries)
import { createServer } from 'node:http';
import { handler } from '../../functions/inference-worker.ts';

const port = Number(process.env.SQUALL_INFERENCE_PORT ?? 8080);
const concurrency = Math.max(1, Number(process.env.SQUALL_INFERENCE_CONCURRENCY ?? 1));
const INVOKE = /^\/2015-03-31\/functions\/[^/]+\/invocations$/;
let running = 0;

const server = createServer((req, res) => {
  const url = (req.url ?? '').split('?')[0]!;
  if (req.method === 'GET' && url === '/health') {
    res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    return;
  }
  if (req.method !== 'POST' || !INVOKE.test(url)) {
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: `no route ${req.method} ${url}` }));
    return;
  }
  if (running >= concurrency) {
    res.writeHead(429, { 'content-type': 'application/json', 'x-amzn-errortype': 'TooManyRequestsException' }).end(JSON.stringify({ message: 'inference worker busy' }));
    return;
  }
  running++;
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let event: unknown;
    try {
      event = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      running--;
      res.writeHead(400, { 'content-type': 'application/json', 'x-amzn-errortype': 'InvalidRequestContentException' }).end(JSON.stringify({ message: 'the payload is not JSON' }));
      return;
    }
    handler(event).then(
      (out) => {
        running--;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
      },
      (e: unknown) => {
        running--;
        // As Lambda answers a handler error: 200 with X-Amz-Function-Error and the error's type and message.
        const err = e as Error;
        res
          .writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' })
          .end(JSON.stringify({ errorType: err?.name ?? 'Error', errorMessage: err?.message ?? String(e) }));
      },
    );
  });
});

server.listen(port, () => process.stdout.write(`squall inference worker listening on :${port}\n`));
