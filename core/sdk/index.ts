// The Squall SDK: `import { Session, col, lit, functions as F } from 'squall'`.
export { PARALLEL_SCAN_BYTES, Session, type SessionOptions } from './session.ts';
export { DataFrame, GroupedData, type JoinHow } from './dataframe.ts';
export { DataFrameReader } from './reader.ts';
export { DataFrameWriter } from './writer.ts';
export { Column, CaseColumn, type ColumnLike, type ColumnOrValue, type LiteralInput } from './column.ts';
export { Window, WindowSpec } from './window.ts';
export { type StorageLevel, type CacheStats, type CachedRelationInfo, cacheStats, clearCache, listCached } from '../cache/plan-cache.ts';
export { RDD, type RddContext, type TextFileOptions, UserFunctionError, TaskTimeoutError, type JobMetrics as RddJobMetrics } from '../rdd/index.ts';
export type { Row, Value } from './rows.ts';
export * as functions from './functions.ts';
export { col, lit, when } from './functions.ts';
export { DataTypes, type DataType } from '../types/data-type.ts';
export { type Schema, type Field, field, schema } from '../types/schema.ts';
export { SquallError, AnalysisError, DataError, UnsupportedError, ExecutionError } from '../types/errors.ts';
export {
  SquallClient,
  ApiError,
  resultRows,
  resultSchema,
  type ConnectOptions,
  type JobInfo,
  type JobState,
  type JobSummary,
  type JobEvent,
  type EventsPage,
  type ResultPage,
  type ResultColumn,
  type StageProgress,
  type ProgressCallback,
} from './remote.ts';
export type { JobSpec, JobOptions, TableRef } from '../runtime/job-spec.ts';
export * as ml from '../ml/index.ts';
