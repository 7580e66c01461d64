// The WebGPU types that kdgpu's public declarations name. dist/types imports them from here rather
// than relying on global declarations (scripts/build-types.mjs adds the imports), because where a
// consumer's WebGPU types come from depends on its TypeScript and its libs: TypeScript 6 and later
// declare WebGPU in lib.dom (and clash with @webgpu/types), TypeScript 5 needs @webgpu/types, and a
// Node project without the DOM lib has none at all. Each interface below resolves to the consumer's
// own global when it declares one, else to an opaque stand-in, so the declarations compile on every
// TypeScript, with or without the DOM lib, strict and without skipLibCheck.

/** The consumer's global WebGPU interface `Name` (found through its `declare var Name`), else `StandIn`. */
type GlobalInterface<Name extends string, StandIn> = typeof globalThis extends { readonly [K in Name]: { prototype: infer T } } ? T : StandIn;

declare const webgpuObject: unique symbol;
/** A WebGPU object where the consumer has no WebGPU types: something to pass along, not to use. */
interface OpaqueGPUObject<Name extends string> {
  label: string;
  readonly [webgpuObject]?: Name;
}

export type GPUAdapter = GlobalInterface<'GPUAdapter', OpaqueGPUObject<'GPUAdapter'>>;
export type GPUDevice = GlobalInterface<'GPUDevice', OpaqueGPUObject<'GPUDevice'>>;
export type GPUBuffer = GlobalInterface<'GPUBuffer', OpaqueGPUObject<'GPUBuffer'>>;
export type GPUBindGroupLayout = GlobalInterface<'GPUBindGroupLayout', OpaqueGPUObject<'GPUBindGroupLayout'>>;
export type GPUComputePipeline = GlobalInterface<'GPUComputePipeline', OpaqueGPUObject<'GPUComputePipeline'>>;
export type GPUCommandEncoder = GlobalInterface<'GPUCommandEncoder', OpaqueGPUObject<'GPUCommandEncoder'>>;
export type GPUQuerySet = GlobalInterface<'GPUQuerySet', OpaqueGPUObject<'GPUQuerySet'>>;
export type GPUSupportedLimits = GlobalInterface<'GPUSupportedLimits', { readonly [limit: string]: number }>;
/** WebGPU's dictionary, spelled out (dictionaries have no global object to find). */
export interface GPUBufferBinding {
  buffer: GPUBuffer;
  offset?: number;
  size?: number;
}
export type GPUBufferUsageFlags = number;
/** WebGPU's dictionary, spelled out. */
export interface GPUComputePassTimestampWrites {
  querySet: GPUQuerySet;
  beginningOfPassWriteIndex?: number;
  endOfPassWriteIndex?: number;
}
