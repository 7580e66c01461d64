// Package entry for Node: the engine over Dawn (npm `webgpu`).
export * from './index.js';
export { createNodeEngine, SWIFTSHADER_ICD, type NodeGpuOptions } from './gpu/node.js';
