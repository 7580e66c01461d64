// Package entry for Node: the engine over Dawn (npm `webgpu`), and file access.
export * from './index.js';
export { createNodeEngine, SWIFTSHADER_ICD, type NodeGpuOptions } from './gpu/node.js';
export {
  loadFashionMnist, loadCifar10, loadCifar100, FASHION_MNIST_DIR, readDataFile, readTextFile,
  loadIdx, idxFilesIn, IDX_FILE_NAMES, loadCsv, csvFilesIn, CSV_FILE_NAMES, loadImageFolder, listImageFolder,
  type IdxFiles, type IdxLoadOptions,
} from './data/node-files.js';
export { decodeImageFile } from './data/node-images.js';
export { loadDatasetSpec, loadDataset, resolveDatasetSpec, datasetFiles, type LoadedData, type Normalisation } from './data/load-dataset.js';
export { saveCheckpointAtomic, loadCheckpoint } from './io/checkpoint-file.js';
export { saveModel, loadModel, loadWeights, modelPath, SHIPPED_MODELS, type ShippedModel } from './nn/model-file.js';
export { loadOnnxRuntimeNode } from './interop/onnx-node.js';
