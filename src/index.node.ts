// Package entry for Node: the engine over Dawn (npm `webgpu`), and file access.
export * from './index.js';
export { createNodeEngine, SWIFTSHADER_ICD, type NodeGpuOptions } from './gpu/node.js';
export { loadFashionMnist, loadCifar10, loadCifar100, FASHION_MNIST_DIR } from './data/node-files.js';
export { saveCheckpointAtomic, loadCheckpoint } from './io/checkpoint-file.js';
export { saveModel, loadModel, loadWeights } from './nn/checkpoint-file.js';
