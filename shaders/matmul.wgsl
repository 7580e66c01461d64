// C[M, N] = act(A'·B' + bias) (+ C when ACCUM), A' = A or Aᵀ, B' = B or Bᵀ.
//   A is [M, K] row-major, or [K, M] when TRANS_A.  B is [K, N], or [N, K] when TRANS_B.
//
// Register-blocked, no workgroup memory. Each invocation owns a TM×16 block of C (TM = 4, 8 or
// 16 rows; 16 on CPU-emulated devices) held in registers, and streams K in chunks of 4: per chunk
// it loads a TM×4 block of A' and a 4×16 block of B' (TM·4 + 64 loads) for TM·64 multiply-adds.
//
// Why it looks the way it does (measured on SwiftShader, where each invocation is one lane of a
// 4-wide SIMD batch and every storage-buffer load is a per-lane gather):
//  - loads are the cost, so the tile is large (16×16: 128 loads per 2048 flops per chunk);
//  - nothing is indexed by a loop variable: SwiftShader does not unroll loops, and a
//    dynamically indexed local array lives in memory (10× slower). The block is spelled out as
//    named `Row` values updated by small functions, which the compiler inlines;
//  - no branches around loads in the K loop: rows and columns past the edge are clamped to the
//    last valid one when the offsets are computed (once, before the loop) and their results are
//    simply not stored; the K remainder (K % 4) runs one k at a time after the loop;
//  - compile time matters too (each variant is a pipeline, built by the CPU): the epilogue is a
//    loop, and the remainder uses a quarter-size update, which keeps a pipeline under ~1 s;
//  - vec4 arithmetic on rows of 16 columns; plain a*b+c rather than fma() (some emulators lower
//    fma() to an exact, slow routine; GPU compilers fuse a*b+c anyway);
//  - operands are addressed through strides, so the four transposition combinations are the same
//    code: A'(m, k) = a[m·a_sm + k·a_sk], B'(k, n) = b[k·b_sk + n·b_sn]. Scalar f32 bindings and
//    4 scalar loads per vec4 measured as fast as vec4 bindings here, and need no alignment.
//
// For conv2d as implicit GEMM, only the operand loaders (load_a, load_a1, load_b_row and the
// offsets they take) change; the block updates and the epilogue stay.

// 16 consecutive columns of one row (of C, or of B').
struct Row { v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32> }
// Rows k..k+3 of B' over the invocation's 16 columns.
struct BChunk { k0: Row, k1: Row, k2: Row, k3: Row }
// 16 element offsets (of rows of A', or columns of B'), already clamped and scaled by the stride.
struct Offsets { o0: vec4<u32>, o1: vec4<u32>, o2: vec4<u32>, o3: vec4<u32> }

fn gather_a(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(a[o.x], a[o.y], a[o.z], a[o.w]); }
fn gather_b(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(b[o.x], b[o.y], b[o.z], b[o.w]); }

// Offsets of indices i0..i0+15, each clamped to `last` (so edge tiles load valid, unused data).
fn offsets16(i0: u32, last: u32, stride: u32) -> Offsets {
  let q = vec4<u32>(0u, 1u, 2u, 3u);
  let l = vec4<u32>(last);
  return Offsets(min(i0 + q, l) * stride, min(i0 + 4u + q, l) * stride,
                 min(i0 + 8u + q, l) * stride, min(i0 + 12u + q, l) * stride);
}

// A'(m, k..k+3) as a vec4: `row` is m's offset, `kq` the offsets of the four k.
fn load_a(row: u32, kq: vec4<u32>) -> vec4<f32> { return gather_a(row + kq); }
// A'(m, k) alone, for the K remainder.
fn load_a1(row: u32, k_ofs: u32) -> f32 { return a[row + k_ofs]; }

// B'(k, n0..n0+15): `k_ofs` is k's offset, `cols` the columns' offsets.
fn load_b_row(cols: Offsets, k_ofs: u32) -> Row {
  return Row(gather_b(cols.o0 + k_ofs), gather_b(cols.o1 + k_ofs), gather_b(cols.o2 + k_ofs), gather_b(cols.o3 + k_ofs));
}

fn load_b_chunk(cols: Offsets, kq: vec4<u32>) -> BChunk {
  return BChunk(load_b_row(cols, kq.x), load_b_row(cols, kq.y), load_b_row(cols, kq.z), load_b_row(cols, kq.w));
}

// One row of C += A'(m, k..k+3) · B'(k..k+3, n0..n0+15).
fn fma_row(c: Row, a4: vec4<f32>, bc: BChunk) -> Row {
  var r = c;
  r.v0 += a4.x * bc.k0.v0; r.v1 += a4.x * bc.k0.v1; r.v2 += a4.x * bc.k0.v2; r.v3 += a4.x * bc.k0.v3;
  r.v0 += a4.y * bc.k1.v0; r.v1 += a4.y * bc.k1.v1; r.v2 += a4.y * bc.k1.v2; r.v3 += a4.y * bc.k1.v3;
  r.v0 += a4.z * bc.k2.v0; r.v1 += a4.z * bc.k2.v1; r.v2 += a4.z * bc.k2.v2; r.v3 += a4.z * bc.k2.v3;
  r.v0 += a4.w * bc.k3.v0; r.v1 += a4.w * bc.k3.v1; r.v2 += a4.w * bc.k3.v2; r.v3 += a4.w * bc.k3.v3;
  return r;
}

// One row of C += s · (one row of B').
fn axpy(c: Row, s: f32, b: Row) -> Row {
  return Row(c.v0 + s * b.v0, c.v1 + s * b.v1, c.v2 + s * b.v2, c.v3 + s * b.v3);
}

// Epilogue for one element C[m, n], at index i of c: bias, accumulation, activation.
fn store1(i: u32, n: u32, x: f32) {
  var v = x;
  if (HAS_BIAS) { v += bias[n]; }
  if (ACCUM) { v += c[i]; }
  if (ACT == 1u) { v = max(v, 0.0); }
  c[i] = v;
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let M = params.M;
  let N = params.N;
  let K = params.K;
  let m0 = gid.y * TM;
  let n0 = gid.x * 16u;
  if (m0 >= M || n0 >= N) { return; }

  // Strides of A'(m, k) and B'(k, n) in their buffers.
  let a_sm = select(K, 1u, TRANS_A);
  let a_sk = select(1u, M, TRANS_A);
  let b_sk = select(N, 1u, TRANS_B);
  let b_sn = select(1u, K, TRANS_B);
  let rows = offsets16(m0, M - 1u, a_sm);
  let cols = offsets16(n0, N - 1u, b_sn);
  let q = vec4<u32>(0u, 1u, 2u, 3u);
  let qa = q * a_sk;
  let qb = q * b_sk;

  // Rows past TM are compile-time dead (TM is a pipeline constant), so GPUs, which want fewer
  // registers per invocation, can take TM = 4 or 8 from the same source.
  var c0 = Row(); var c1 = Row(); var c2 = Row(); var c3 = Row();
  var c4 = Row(); var c5 = Row(); var c6 = Row(); var c7 = Row();
  var c8 = Row(); var c9 = Row(); var c10 = Row(); var c11 = Row();
  var c12 = Row(); var c13 = Row(); var c14 = Row(); var c15 = Row();

  var k = 0u;
  for (; k + 4u <= K; k += 4u) {
    let bc = load_b_chunk(cols, k * b_sk + qb);
    let ka = k * a_sk + qa;
    c0 = fma_row(c0, load_a(rows.o0.x, ka), bc);
    c1 = fma_row(c1, load_a(rows.o0.y, ka), bc);
    c2 = fma_row(c2, load_a(rows.o0.z, ka), bc);
    c3 = fma_row(c3, load_a(rows.o0.w, ka), bc);
    if (TM > 4u) {
      c4 = fma_row(c4, load_a(rows.o1.x, ka), bc);
      c5 = fma_row(c5, load_a(rows.o1.y, ka), bc);
      c6 = fma_row(c6, load_a(rows.o1.z, ka), bc);
      c7 = fma_row(c7, load_a(rows.o1.w, ka), bc);
    }
    if (TM > 8u) {
      c8 = fma_row(c8, load_a(rows.o2.x, ka), bc);
      c9 = fma_row(c9, load_a(rows.o2.y, ka), bc);
      c10 = fma_row(c10, load_a(rows.o2.z, ka), bc);
      c11 = fma_row(c11, load_a(rows.o2.w, ka), bc);
      c12 = fma_row(c12, load_a(rows.o3.x, ka), bc);
      c13 = fma_row(c13, load_a(rows.o3.y, ka), bc);
      c14 = fma_row(c14, load_a(rows.o3.z, ka), bc);
      c15 = fma_row(c15, load_a(rows.o3.w, ka), bc);
    }
  }

  // The K % 4 leftover k, one at a time (at most 3 passes; a quarter of the chunk's code).
  for (; k < K; k++) {
    let br = load_b_row(cols, k * b_sk);
    let ka = k * a_sk;
    c0 = axpy(c0, load_a1(rows.o0.x, ka), br);
    c1 = axpy(c1, load_a1(rows.o0.y, ka), br);
    c2 = axpy(c2, load_a1(rows.o0.z, ka), br);
    c3 = axpy(c3, load_a1(rows.o0.w, ka), br);
    if (TM > 4u) {
      c4 = axpy(c4, load_a1(rows.o1.x, ka), br);
      c5 = axpy(c5, load_a1(rows.o1.y, ka), br);
      c6 = axpy(c6, load_a1(rows.o1.z, ka), br);
      c7 = axpy(c7, load_a1(rows.o1.w, ka), br);
    }
    if (TM > 8u) {
      c8 = axpy(c8, load_a1(rows.o2.x, ka), br);
      c9 = axpy(c9, load_a1(rows.o2.y, ka), br);
      c10 = axpy(c10, load_a1(rows.o2.z, ka), br);
      c11 = axpy(c11, load_a1(rows.o2.w, ka), br);
      c12 = axpy(c12, load_a1(rows.o3.x, ka), br);
      c13 = axpy(c13, load_a1(rows.o3.y, ka), br);
      c14 = axpy(c14, load_a1(rows.o3.z, ka), br);
      c15 = axpy(c15, load_a1(rows.o3.w, ka), br);
    }
  }

  // Epilogue, once per invocation. A loop over a local copy of the block runs slower than
  // spelled-out stores but compiles far faster: 256 inlined stores made this pipeline take
  // seconds to build on SwiftShader.
  let block = array<Row, 16>(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15);
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= M) { break; }
    let r = block[i];
    let v = array<vec4<f32>, 4>(r.v0, r.v1, r.v2, r.v3);
    for (var j = 0u; j < 16u; j++) {
      let n = n0 + j;
      if (n >= N) { break; }
      store1(m * N + n, n, v[j / 4u][j % 4u]);
    }
  }
}
