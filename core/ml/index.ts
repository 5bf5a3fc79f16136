// Squall ML: Spark ML's pipelines over DataFrames. `import { ml } from 'squall'`.
export { Params, param, makeUid, type ParamSpec, type ParamSpecs } from './params.ts';
export { PipelineStage, Transformer, Estimator, Model, type SaveOptions, type StageState } from './base.ts';
export { Pipeline, PipelineModel } from './pipeline.ts';
export { VectorAssembler, type VectorAssemblerParams, type HandleInvalid } from './feature/vector-assembler.ts';
export { StandardScaler, StandardScalerModel, type StandardScalerParams, summarizePartition, combineSummaries, summaryStatistics } from './feature/standard-scaler.ts';
export { IndexToString, type IndexToStringParams } from './feature/index-to-string.ts';
export { CASE_LIMIT, StringIndexer, StringIndexerModel, type StringIndexerParams, type StringOrderType, orderLabels } from './feature/string-indexer.ts';
export {
  LogisticRegression,
  LogisticRegressionModel,
  type LogisticRegressionParams,
  type TrainingSummary,
  type PartitionTaskRunner,
  combineGradients,
  runPartitionTasks,
  splitPartitions,
} from './classification/logistic-regression.ts';
export { type LogisticPartition, type LogisticSetup, type PartitionGradient, logisticLossAndGradient } from './classification/logistic-loss.ts';
export { minimizeLbfgs, type LbfgsOptions, type LbfgsResult } from './optim/lbfgs.ts';
export {
  Evaluator,
  BinaryClassificationEvaluator,
  MulticlassClassificationEvaluator,
  areaUnderROC,
  areaUnderPR,
  multiclassMetrics,
} from './evaluation.ts';
export { loadStage, registerStage, type LoadOptions, type StageMetadata, METADATA_FILE } from './persistence.ts';
export { ParamGridBuilder, CrossValidator, CrossValidatorModel, applyParamMap, type ParamMap, type CrossValidatorParams } from './tuning.ts';
export { OnnxModel, type OnnxModelParams } from './onnx/onnx-model.ts';
export { ImageFeaturizer, type ImageFeaturizerParams, PP_OCR_V4_DETECTOR } from './onnx/image-featurizer.ts';
export { ImageToVector, type ImageToVectorParams } from './image/image-to-vector.ts';
export { type BatchModel, type BatchContext, type InferenceDevice, isBatchModel, localBatchContext } from './batch-model.ts';
export { transformBatches } from './batches.ts';
export { exposeTensors } from './onnx/graph-cut.ts';
export { describeOnnxModel, graphSignature, type ModelDescription, type TensorInfo } from './onnx/describe-model.ts';
export { runInSubBatches, isOutOfMemoryError } from './onnx/sub-batches.ts';
export { loadOnnxModel, clearLoadedOnnxModels, loadedOnnxModelCount, MAX_LOADED_ONNX_MODELS, type LoadedOnnxModel, type OnnxModelRef } from './onnx/loaded-models.ts';
export { type TensorData, type InferenceRunner, globalAveragePool } from './onnx/tensor.ts';
