// A trivial function for measuring the local stack's own per-invoke overhead (measure.ts) and for smoke tests.
export async function handler(event: unknown): Promise<unknown> {
  return event;
}
