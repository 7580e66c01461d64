// Winograd's 16 element-wise products as one batched GEMM on the GEMM core (gemm_core.wgsl):
//   M[ξ](t, c) = Σ_k V[ξ](t, k) · U[ξ](k, c),   ξ = 0..15
// with V [16][K][T], U [16][K][C], M [16][C][T] (winograd_transforms.wgsl): rows m = tiles t,
// columns c (output channels), reduction k (input channels). Each invocation's block lies in one
// ξ: the linear block index is (ξ, row block, column block), ξ outermost, and the batch's offsets
// are private values the loaders add. Plain strided operands (no bounds): BOUNDED is false.

const BOUNDED: bool = false;
const PHASED: bool = false;

var<private> a_base: u32;   // ξ·K·T
var<private> b_base: u32;   // ξ·K·C
var<private> c_base: u32;   // ξ·C·T

fn gather_a(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(v[o.x], v[o.y], v[o.z], v[o.w]); }
fn fetch_a(i: u32) -> f32 { return v[i]; }
fn gather_b(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(u[o.x], u[o.y], u[o.z], u[o.w]); }

// Rows are plain t: one digit, never carried.
fn row_radix() -> vec2<u32> { return vec2<u32>(1u, 0xffffffffu); }

fn row_a(p: vec3<u32>) -> RowA { return RowA(a_base + p.z, 0u, 0u, 0u, 0u, c_base + p.z); }

fn k_a(k: vec4<u32>) -> KA {
  let z = vec4<u32>(0u);
  return KA(k * params.T, z, z, z, z, 0u, 0u);
}

fn k_b(k: vec4<u32>) -> vec4<u32> { return vec4<u32>(b_base) + k * params.C; }

// No accumulation: the clamped duplicate rows and columns past the edge rewrite the same value.
fn store1(i: u32, c: u32, x: f32) { m[i] = x; }

fn store_row(out: u32, row_ok: bool, c0: u32, oc: Offsets, r: Row) { store_cols(out, c0, oc, r); }

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let block = linear_workgroup(wid, nwg) * WG_X + lid;
  let ctiles = (params.C + TN - 1u) / TN;
  let per = ((params.T + TM - 1u) / TM) * ctiles;
  let xi = block / per;
  if (xi >= 16u) { return; }
  let r = block - xi * per;
  let m0 = (r / ctiles) * TM;
  let c0 = (r % ctiles) * TN;
  a_base = xi * params.K * params.T;
  b_base = xi * params.K * params.C;
  c_base = xi * params.C * params.T;
  let last = params.T - 1u;

  var ra = rows_a(m0, last);
  var acc: Acc;
  accumulate_k(&acc, &ra, offsets16(c0, params.C - 1u, 1u), params.K);
  store_rows(&acc, &ra, m0, last, c0, offsets16(c0, params.C - 1u, params.T));
}
