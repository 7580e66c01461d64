// Every kernel check, in the order `kdgpu verify` runs them. A kernel defined with defineKernel()
// but dispatched by none of these is reported as unverified (see verify.ts), and the test suite fails.

import type { KernelCheck } from './check.js';
import { elementwiseCheck } from './elementwise.js';
import { reduceCheck } from './reduce.js';
import { matmulCheck } from './matmul.js';
import { softmaxCheck, softmaxXentCheck } from './softmax.js';
import { ceilingCheck } from './ceiling.js';

export const registry: KernelCheck[] = [elementwiseCheck, reduceCheck, matmulCheck, softmaxCheck, softmaxXentCheck, ceilingCheck];
