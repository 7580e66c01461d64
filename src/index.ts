// What the Node and browser entry points share.
export { Engine, type Binding, type DispatchArgs, type EngineOptions } from './gpu/engine.js';
export { BufferPool, sizeClass, type PoolCounters } from './gpu/pool.js';
export { defineKernel, definedKernels, type KernelDef } from './gpu/kernel.js';
export { describeAdapter, type AdapterChoice } from './gpu/acquire.js';
export { elementwise, type ElementwiseOp } from './kernels/elementwise.js';
export { reduceAxis } from './kernels/reduce.js';
export { matmul, type MatmulOptions, type Activation } from './kernels/matmul.js';
export { softmax, softmaxCrossEntropy } from './kernels/softmax.js';
export { registry } from './kernels/registry.js';
export { verifyKernels, unverifiedKernels, type VerifyRow, type VerifyOptions } from './kernels/verify.js';
export { Rng } from './util/rng.js';
