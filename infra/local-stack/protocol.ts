// Messages between the Invoke endpoint's worker pool and its worker processes, and Lambda's shapes they carry.

/** The body Lambda returns with `X-Amz-Function-Error: Unhandled`. */
export interface FunctionErrorBody {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: readonly string[];
}

/** The context object handlers receive (the fields of Lambda's Node runtime that matter here). */
export interface LambdaContext {
  readonly functionName: string;
  readonly functionVersion: string;
  readonly invokedFunctionArn: string;
  readonly memoryLimitInMB: string;
  readonly awsRequestId: string;
  readonly logGroupName: string;
  readonly logStreamName: string;
  getRemainingTimeInMillis(): number;
  callbackWaitsForEmptyEventLoop: boolean;
}

export type SerializableContext = Omit<LambdaContext, 'getRemainingTimeInMillis' | 'callbackWaitsForEmptyEventLoop'>;

export type WorkerRequest = {
  readonly type: 'invoke';
  readonly id: string;
  /** The event as JSON text, parsed in the worker (as Lambda hands the runtime raw bytes). */
  readonly payload: string;
  readonly deadlineMs: number;
  readonly context: SerializableContext;
};

export type WorkerReply =
  | { readonly type: 'ready' }
  | { readonly type: 'init-error'; readonly error: FunctionErrorBody }
  | { readonly type: 'result'; readonly id: string; readonly ok: true; readonly payload: string }
  | { readonly type: 'result'; readonly id: string; readonly ok: false; readonly error: FunctionErrorBody }
  | { readonly type: 'crash'; readonly id: string | null; readonly error: FunctionErrorBody };
