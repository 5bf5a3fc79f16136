// Loads thread-task-worker.ts in a worker thread. Under `tsx` the thread inherits tsx's loader and the import
// works directly; elsewhere (vitest, plain node) tsx's loader is registered for this thread first.
try {
  await import('./thread-task-worker.ts');
} catch (e) {
  if (e?.code !== 'ERR_UNKNOWN_FILE_EXTENSION') throw e;
  const { register } = await import('tsx/esm/api');
  register();
  // A new specifier: the failed import above stays cached under the old one.
  await import('./thread-task-worker.ts?tsx');
}
