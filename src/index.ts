// What the Node and browser entry points share.
export { Engine, type Binding, type DispatchArgs, type EngineOptions, type MemoryInfo } from './gpu/engine.js';
export { type PoolCounters } from './gpu/pool.js';
export { defineKernel, definedKernels, type KernelDef, type BindingSpec, type ElemType, type Access, type UniformType, type Variant } from './gpu/kernel.js';
export { describeAdapter, engineFromAdapter, type AdapterChoice } from './gpu/acquire.js';
export { elementwise, type ElementwiseOp } from './kernels/elementwise.js';
export { reduceAxis } from './kernels/reduce.js';
export { matmul, type MatmulOptions, type Activation } from './kernels/matmul.js';
export { softmax, softmaxCrossEntropy } from './kernels/softmax.js';
export { conv2dForward, conv2dBackwardData, conv2dBackwardWeight, type ConvShape } from './kernels/conv2d.js';
export { labelRevision, kdLoss, influenceScores, selectMask, type Revision, type KdLoss, type KdLossOptions, type LrScope, type SelectionRule } from './kernels/kd.js';
export { registry } from './kernels/registry.js';
export { verifyKernels, unverifiedKernels, type VerifyRow, type VerifyOptions } from './kernels/verify.js';
export { runKernelBench, timeDispatches, type BenchRow, type KernelBenchResult, type KernelBenchOptions, type Timing } from './bench/kernels.js';
export { type KernelCheck, type VerifyCase, type HostArray } from './kernels/check.js';
export { Tensor, Graph, EngineTensor } from './tensor.js';
export * as ops from './autograd.js';
export { createModel, defineModel, modelLayers, BasicBlock, MODEL_NAMES, type Model, type ModelName, type ModelParts, type InputSpec } from './nn/models.js';
export { Module, Conv2d, Linear, BatchNorm2d, ReLU, MaxPool2d, GlobalAvgPool, Flatten, Sequential } from './nn/layers.js';
export { ParameterStore, type ParamEntry } from './nn/parameters.js';
export { Optimizer, scheduleFor, type OptimizerRule, type Schedule, type ScheduleKind } from './optim/optimizer.js';
export { train, forEachBatch, crossEntropyLoss, trainStep, evaluate, BatchBuffers, GpuMetrics, NumericalFault, DivergenceCheck, type TrainLoopOptions, type TrainHooks, type TrainResult, type TrainProgress, type EpochResult, type StepLoss, type StepInput, type StepLossResult, type BatchPass } from './train.js';
export { distill, epochTelemetry, DEFAULT_DISTILL, validateDistillOptions, defaultValSplit, splitRows, type DistillOptions, type DistillTeacher, type DistillResult, type DistillCallbacks, type EpochTelemetry, type SelectionTelemetry } from './kd/distill.js';
export { RUN_OPTIONS, METHODS, methodParts, validateOptions, parseOption, OptionError, type Method, type MethodParts, type OptionDecl, type OptionField, type RunOptionValues } from './options.js';
export { reviseLabels, type ReviseLabelsOptions, type RevisedLabels } from './kd/revise.js';
export { selectDistillSubset, type SelectionOptions, type SelectionResult } from './kd/selection.js';
export { TeacherCache, type TeacherLogits } from './kd/teacher-cache.js';
export { ABLATION_METHODS, summarise, compare, verdict, markdownTable, accuracyChartSpec, type AblationRun, type AblationArm, type ArmOverrides, type MethodSummary, type PairedComparison, type Metric } from './kd/ablation.js';
export type { Dataset, PixelLayout } from './data/dataset.js';
export { normalize, channelStats, takeExamples, pixelsCHW, inputValues, type ChannelStats } from './data/dataset.js';
export { DeviceImages, residentFits, type DeviceImagesOptions } from './device-images.js';
export type { AugmentOptions } from './data/augment.js';
export {
  parseIdxImages, parseIdxLabels, idxDataset, fashionMnistDataset, isGzip, FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, type IdxPair, type IdxImages, type ImageSize,
} from './data/idx.js';
export { cifarDataset, CIFAR10_CLASSES } from './data/cifar.js';
export { csvDataset, csvDatasets, parseCsvTable, csvPixelRange, PIXEL_RANGES, type CsvFile, type CsvOptions, type CsvDatasetOptions, type CsvTable, type PixelRange } from './data/csv.js';
export {
  imageFolderListing, imageFolderDatasets, imageChannels, isImageFileName, IMAGE_EXTENSIONS, MAX_IMAGE_PIXELS,
  type DecodedImage, type ImageDecoder, type ImageFolderEntry, type ImageFolderListing, type ImageFolderOptions,
} from './data/image-folder.js';
export { checkDatasetSpec, parseImageShape, DATASET_KINDS, type DatasetSpec, type DatasetKind, type DatasetFiles } from './data/spec.js';
export { Batcher, allIndices, trainSubset, validationSplit, epochOrder, type Batch, type BatcherOptions } from './data/batches.js';
export { encodeSafetensors, decodeSafetensors, type Dtype, type SafeTensor, type TensorMap, type SafetensorsFile, type DecodeOptions } from './io/safetensors.js';
export { encodeCheckpoint, decodeCheckpoint, contentHash, type Checkpoint } from './io/checkpoint-bytes.js';
export { Rng } from './util/rng.js';
export { encodeModel, restoreModel, modelFromBytes, type ModelConfig, type TrainingState, type RestoredModel, type RestoreOptions } from './nn/model-checkpoint.js';
export { exportOnnx, onnxFromModel, onnxFromCheckpoint, ONNX_OPSET, type OnnxExportOptions, type OnnxExportSummary } from './interop/onnx-export.js';
export { decodeOnnxModel, type OnnxModel } from './interop/onnx-proto.js';
export { readLogitsFile, logitsAgreement, refuseChanceTeacher, checkLogitsShape, floatToHalf, type LogitsFile, type LogitsMatrix, type LogitsAgreement } from './interop/logits-file.js';
export { onnxTeacherLogits, DEFAULT_ONNX_INPUT, ONNX_LAYOUTS, type OrtModule, type OnnxInputOptions, type OnnxLayout, type OnnxTeacherLogits } from './interop/onnx-teacher.js';
