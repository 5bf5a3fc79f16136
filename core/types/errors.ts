// Errors users see. Each names the thing that is wrong (column, file, row, field) so that no one has to read
// a stack trace from inside the engine to find the cause.

export class SquallError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A reference to something the plan does not have: a column, a table, a function. */
export class AnalysisError extends SquallError {}

/** Input data that cannot be read or converted: corrupt files, malformed rows, failed casts. */
export class DataError extends SquallError {}

/** A feature that is recognised but not supported; the message names it and, where there is one, the alternative. */
export class UnsupportedError extends SquallError {}

/** A problem while running a plan that is not the input's fault. */
export class ExecutionError extends SquallError {}

/** The user-facing error classes by name: what a remote job's failure is raised as in the client. */
const BY_TYPE = { AnalysisError, DataError, UnsupportedError, ExecutionError } as const;

export type SquallErrorType = keyof typeof BY_TYPE;

export function isSquallErrorType(name: string): name is SquallErrorType {
  return Object.hasOwn(BY_TYPE, name);
}

/** An error of the class named `type` (ExecutionError for any other name), so remote failures raise what local runs do. */
export function errorOfType(type: string | undefined, message: string): SquallError {
  return new (type !== undefined && isSquallErrorType(type) ? BY_TYPE[type] : ExecutionError)(message);
}
