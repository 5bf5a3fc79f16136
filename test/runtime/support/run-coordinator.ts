// Runs the coordinator handler in this process with the event read from stdin: the "coordinator that dies"
// of test/runtime/serverless.test.ts (the test kills this process mid-job).
import { handler } from '../../../functions/coordinator.ts';

let text = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (text += chunk));
process.stdin.on('end', () => {
  handler(JSON.parse(text)).then(
    (r) => process.stdout.write(JSON.stringify(r)),
    (e: unknown) => {
      process.stderr.write(`${(e as Error).message}\n`);
      process.exitCode = 1;
    },
  );
});
