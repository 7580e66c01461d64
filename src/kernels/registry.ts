// Every kernel check, in the order `kdgpu verify` runs them. A kernel defined with defineKernel()
// but dispatched by none of these is reported as unverified (see verify.ts), and the test suite fails.

import type { KernelCheck } from './check.js';
import { elementwiseCheck } from './elementwise.js';
import { reduceCheck } from './reduce.js';
import { matmulCheck } from './matmul.js';
import { softmaxCheck, softmaxXentCheck } from './softmax.js';
import { ceilingCheck } from './ceiling.js';
import { conv2dCheck } from './conv2d.js';
import { pool2dCheck } from './pool2d.js';
import { batchnormCheck } from './batchnorm.js';
import { optimizerCheck } from './optim.js';
import { kdCheck } from './kd.js';
import { scoresCheck } from './scores.check.js';
import { finiteKernelCheck } from './finite.js';
import { scatterCheck } from './scatter.js';

export const registry: KernelCheck[] = [elementwiseCheck, reduceCheck, matmulCheck, softmaxCheck, softmaxXentCheck, conv2dCheck, pool2dCheck, batchnormCheck, optimizerCheck, kdCheck, scoresCheck, finiteKernelCheck, scatterCheck, ceilingCheck];
