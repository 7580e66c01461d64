// Every kernel check, in the order `kdgpu verify` runs them. A kernel defined with defineKernel()
// but dispatched by none of these is reported as unverified (see verify.ts), and the test suite fails.

import type { KernelCheck } from './check.js';
import { elementwiseCheck } from './elementwise.check.js';
import { reduceCheck } from './reduce.check.js';
import { matmulCheck } from './matmul.check.js';
import { softmaxCheck, softmaxXentCheck } from './softmax.check.js';
import { ceilingCheck } from './ceiling.check.js';
import { conv2dCheck } from './conv2d.check.js';
import { winogradCheck } from './winograd.check.js';
import { pool2dCheck } from './pool2d.check.js';
import { batchnormCheck } from './batchnorm.check.js';
import { optimizerCheck } from './optim.check.js';
import { kdCheck } from './kd.check.js';
import { scoresCheck } from './scores.check.js';
import { finiteKernelCheck } from './finite.check.js';
import { scatterCheck } from './scatter.check.js';
import { gatherCheck } from './gather.check.js';

export const registry: KernelCheck[] = [elementwiseCheck, reduceCheck, matmulCheck, softmaxCheck, softmaxXentCheck, conv2dCheck, winogradCheck, pool2dCheck, batchnormCheck, optimizerCheck, kdCheck, scoresCheck, finiteKernelCheck, scatterCheck, gatherCheck, ceilingCheck];
