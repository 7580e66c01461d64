// Your own kernel, verified and benchmarked beside kdgpu's:
//   npx kdgpu verify --checks examples/my-kernels.mjs            (all kernels, yours included)
//   npx kdgpu verify --checks examples/my-kernels.mjs --no-builtins
//   npx kdgpu bench kernels --checks examples/my-kernels.mjs --filter leaky
// A kernel is WGSL plus a spec (bindings, uniforms, constants: their declarations are generated),
// a float64 reference, and cases on random inputs. Outputs are poisoned (NaN) before each run, so an
// element the kernel never writes fails.
import { defineKernel } from 'kdgpu';

const WG = 64;

export const leakyReluKernel = defineKernel({
  name: 'leaky_relu_example',
  source: /* wgsl */ `
@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG_X + lid;
  if (i >= params.n) { return; }
  let v = x[i];
  y[i] = select(params.slope * v, v, v > 0.0);
}`,
  bindings: [
    { name: 'x', type: 'f32', access: 'read' },
    { name: 'y', type: 'f32', access: 'read_write' },
  ],
  uniforms: [
    ['n', 'u32'],
    ['slope', 'f32'],
  ],
  workgroupSize: () => [WG, 1, 1],
});

/** y = x > 0 ? x : slope·x, for n floats. */
export function leakyRelu(engine, x, y, n, slope) {
  engine.dispatch(leakyReluKernel, { bind: { x, y }, uniforms: { n, slope }, workgroups: Math.ceil(n / WG) });
}

export const checks = [
  {
    name: 'leaky_relu_example',
    kernels: [leakyReluKernel],
    cases(rng) {
      // Odd sizes, one element, more than 65,535 workgroups' worth, and extreme values.
      return [1, 1000 + rng.int(100), 70 * 65_536 + 3].map((n) => {
        const x = rng.fillUniform(n, -1e4, 1e4);
        x[0] = -3.4e38;
        const slope = 0.01 + rng.next() * 0.2;
        return {
          shape: `n=${n} slope=${slope.toFixed(3)}`,
          inputs: { x },
          outputs: { y: n },
          run: (engine, b) => leakyRelu(engine, b.x, b.y, n, slope),
          reference: () => ({ y: Float64Array.from(x, (v) => (v > 0 ? v : Math.fround(slope) * v)) }),
          tolerance: { abs: 0, rel: 1e-6 },
          work: { amount: n * 8, unit: 'GB/s' },
        };
      });
    },
  },
];
