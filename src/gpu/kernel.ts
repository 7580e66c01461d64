// A kernel's compile-time contract: its WGSL body, its bindings and its uniform block.
// The declarations (bindings, the Params struct, compile-time constants) are generated from this
// spec and prepended to the WGSL body, so the layout the engine binds and the layout the shader
// declares can never disagree.

export type ElemType = 'f32' | 'u32' | 'i32' | 'vec4<f32>' | 'atomic<u32>';
export type Access = 'read' | 'read_write';

export interface BindingSpec {
  name: string;
  type: ElemType;
  access: Access;
}

export type UniformType = 'u32' | 'i32' | 'f32';

export interface KernelDef {
  /** Unique name; shows in errors, benchmarks and verification tables. */
  name: string;
  /** WGSL body: functions and the `main` entry point; uses the generated declarations. */
  source: string;
  bindings: BindingSpec[];
  uniforms: Array<[name: string, type: UniformType]>;
  /** Compile-time constants that every variant must set (e.g. tile sizes, activation). */
  constants?: Record<string, number | boolean>;
  /** Workgroup size; may refer to constants, e.g. (c) => [c.WG, 1, 1]. */
  workgroupSize: (c: Record<string, number | boolean>) => [number, number, number];
}

/** Every kernel defined anywhere, so the verifier can prove none is left unverified. */
export const definedKernels = new Map<string, KernelDef>();

/**
 * Register a kernel by name. Defining the same kernel again (same name, source, bindings, uniforms
 * and constants: e.g. a module loaded twice) returns the first definition; a different kernel
 * under a taken name is refused.
 */
export function defineKernel(def: KernelDef): KernelDef {
  const had = definedKernels.get(def.name);
  if (had) {
    if (sameKernel(had, def)) return had;
    throw new Error(`kernel "${def.name}" is defined twice, with different definitions: give one of them another name`);
  }
  definedKernels.set(def.name, def);
  return def;
}

function sameKernel(a: KernelDef, b: KernelDef): boolean {
  const shape = (k: KernelDef) => JSON.stringify([k.source, k.bindings, k.uniforms, k.constants ?? {}, k.workgroupSize(k.constants ?? {})]);
  return shape(a) === shape(b);
}

export type Variant = Record<string, number | boolean>;

export function variantKey(def: KernelDef, variant: Variant): string {
  const c = { ...def.constants, ...variant };
  return def.name + JSON.stringify(Object.keys(c).sort().map((k) => [k, c[k]]));
}

function wgslLiteral(v: number | boolean): string {
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Number.isInteger(v)) return `${v}`;
  return `${v}f`;
}

/** Generated prelude + body. Binding i of the spec is @binding(i); the uniform block comes last. */
export function generateWgsl(def: KernelDef, variant: Variant): { code: string; preludeLines: number } {
  const c = { ...def.constants, ...variant };
  for (const k of Object.keys(c)) {
    if (c[k] === undefined) throw new Error(`kernel "${def.name}": constant ${k} has no value`);
  }
  const [wx, wy, wz] = def.workgroupSize(c);
  const lines: string[] = [];
  for (const [k, v] of Object.entries(c)) {
    // Integers become u32 constants (indices and sizes), booleans bool, other numbers f32.
    const ty = typeof v === 'boolean' ? 'bool' : Number.isInteger(v) ? 'u32' : 'f32';
    lines.push(`const ${k}: ${ty} = ${typeof v === 'number' && ty === 'u32' ? `${v}u` : wgslLiteral(v)};`);
  }
  lines.push(`const WG_X: u32 = ${wx}u;`, `const WG_Y: u32 = ${wy}u;`, `const WG_Z: u32 = ${wz}u;`);
  def.bindings.forEach((b, i) => {
    const access = b.access === 'read' ? 'read' : 'read_write';
    lines.push(`@group(0) @binding(${i}) var<storage, ${access}> ${b.name}: array<${b.type}>;`);
  });
  if (def.uniforms.length > 0) {
    lines.push('struct Params {');
    for (const [n, t] of def.uniforms) lines.push(`  ${n}: ${t},`);
    lines.push('};');
    lines.push(`@group(0) @binding(${def.bindings.length}) var<uniform> params: Params;`);
  }
  // Dispatches with more than 65,535 workgroups are folded into 2-D by the engine;
  // kernels recover the linear workgroup index with this helper.
  lines.push('fn linear_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 { return wid.x + wid.y * nwg.x; }');
  lines.push('');
  // lines ends with '', so the body starts on line lines.length: body line = line − (length − 1).
  return { code: lines.join('\n') + def.source, preludeLines: lines.length - 1 };
}

/** Byte size of the uniform block (all fields are 4-byte scalars; WGSL rounds structs to 16). */
export function uniformBytes(def: KernelDef): number {
  return Math.ceil((def.uniforms.length * 4) / 16) * 16;
}
