// RDDs: lazily transformed partitioned collections of plain values, with user functions shipped as source text.
export { RDD, type RddContext, type RddSession, type TextFileOptions, DEFAULT_PARALLELISM, parallelize, textFile, dataFrameRdd, rddState } from './rdd.ts';
export { type ShippedFunction, shipFunction, capturedVariables, serializeValue } from './closure.ts';
export { UserFunctionError, TaskTimeoutError } from './sandbox.ts';
export type { JobMetrics } from './runner.ts';
export type { RddNode, Step } from './lineage.ts';
export { type RddTaskSpec, rddTaskToJson, rddTaskFromJson, runRddTask } from './task.ts';
export { type RddStage, type RddStageTask, planRddStages, runStageTask, runStagesLocally, MemoryShuffleStore } from './stages.ts';
export type { RddShuffleStore } from './runner.ts';
