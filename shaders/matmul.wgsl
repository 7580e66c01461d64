// C[M, N] = act(A'·B' + bias) (+ C when ACCUM), A' = A or Aᵀ, B' = B or Bᵀ, on the GEMM core
// (gemm_core.wgsl). A is [M, K] row-major, or [K, M] when transposed; B is [K, N], or [N, K].
// Operands are addressed through strides, so the four transposition combinations are the same
// pipeline: A'(m, k) = a[m·a_sm + k·a_sk], B'(k, n) = b[k·b_sk + n·b_sn].

const BOUNDED: bool = false;
const PHASED: bool = false;

fn gather_a(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(a[o.x], a[o.y], a[o.z], a[o.w]); }
fn fetch_a(i: u32) -> f32 { return a[i]; }
fn gather_b(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(b[o.x], b[o.y], b[o.z], b[o.w]); }

// Rows are plain m: one digit, never carried.
fn row_radix() -> vec2<u32> { return vec2<u32>(1u, 0xffffffffu); }

fn row_a(p: vec3<u32>) -> RowA { return RowA(p.z * params.a_sm, 0u, 0u, 0u, 0u, p.z * params.N); }

fn k_a(k: vec4<u32>) -> KA {
  let z = vec4<u32>(0u);
  return KA(k * params.a_sk, z, z, z, z, 0u, 0u);
}

fn k_b(k: vec4<u32>) -> vec4<u32> { return k * params.b_sk; }

// Epilogue for one element C[m, n] at index i: bias, accumulation, activation. With ACCUM a store
// reads what it overwrites, so the clamped duplicate columns and rows (see gemm_core.wgsl) are
// skipped rather than stored twice.
fn store1(i: u32, n: u32, x: f32) {
  var v = x;
  if (HAS_BIAS) { v += bias[min(n, params.N - 1u)]; }
  if (ACCUM) {
    if (n >= params.N) { return; }
    v += c[i];
  }
  if (ACT == 1u) { v = max(v, 0.0); }
  c[i] = v;
}

fn store_row(out: u32, row_ok: bool, c0: u32, oc: Offsets, r: Row) { store_row_once(ACCUM, out, row_ok, c0, oc, r); }

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let origin = invocation_origin(wid, nwg, lid, params.N);
  let m0 = origin.x;
  let c0 = origin.y;
  let last = params.M - 1u;
  if (m0 > last) { return; }

  var ra = rows_a(m0, last);
  var acc: Acc;
  accumulate_k(&acc, &ra, offsets16(c0, params.N - 1u, params.b_sn), params.K);
  store_rows(&acc, &ra, m0, last, c0, offsets16(c0, params.N - 1u, 1u));
}
