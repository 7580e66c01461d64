// Adapter → device with the adapter's own limits, shared by the Node and browser entry points.

import { Engine, type EngineOptions } from './engine.js';

export type AdapterChoice = 'auto' | 'gpu' | 'swiftshader';

/** Describe an adapter in one line: vendor, architecture, description. */
export function describeAdapter(adapter: GPUAdapter): string {
  const i = adapter.info;
  const parts = [i.vendor, i.architecture, i.description || i.device].filter((s) => s && s.length > 0);
  return parts.length > 0 ? parts.join(' / ') : 'unknown adapter';
}

export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const i = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  return i.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|warp/i.test(`${i.architecture} ${i.description} ${i.device}`);
}

/** Request a device with the adapter's maximum limits for the ones kernels depend on. */
export async function engineFromAdapter(adapter: GPUAdapter, options: EngineOptions = {}): Promise<Engine> {
  const l = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxBufferSize: l.maxBufferSize,
    maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
    maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
  };
  const requiredFeatures: GPUFeatureName[] = adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'kdgpu' });
  return new Engine(device, describeAdapter(adapter), { software: isSoftwareAdapter(adapter), ...options });
}
