// The GEMM core: every GEMM-shaped kernel (matmul.wgsl and the three conv2d directions as
// implicit GEMMs) is this file plus a small file of operand loaders and an epilogue.
//
//   C(m, c) = Σ_k A'(m, k) · B'(k, c)
//
// Register-blocked, no workgroup memory. Each invocation owns a TM×TN block of C (TM = 4 to 32
// rows, TN = 8 or 16 columns; both pipeline constants) held in named `Row` values, and streams k
// in chunks of 4: per chunk it loads a 4×TN block of B' (4·TN loads) and, per row, 4 elements of
// A' (4·TM loads) for TM·TN·4 multiply-adds. Every address is a part that depends on the row (or
// column) alone, computed once before the k loop, plus a part that depends on k alone, computed
// once per chunk and shared by all rows (columns):
//   A'(m, k) = a[row.off + kq.ofs],   B'(k, c) = b[kb(k) + col_c].
// A plain GEMM has row.off = m·a_sm, kq.ofs = k·a_sk, kb(k) = k·b_sk, col_c = c·b_sn (strides,
// so the four transposition combinations are one pipeline); an implicit GEMM has no im2col
// buffer, only other address parts.
//
// BOUNDED (conv kernels): A' reads an image and a tap may fall outside it; the tap is valid when
// row.h + kq.h < kq.lh and row.w + kq.w < kq.lw (u32 arithmetic, so "negative" coordinates wrap
// to huge values and fail the same test). Invalid taps load element 0 (always a legal address)
// and are zeroed with select(): no branch around a load anywhere in the k loop. B' never falls
// outside its operand. Rows past the edge repeat the last row and columns past the edge the last
// column (so the stores need no branch either; see the epilogue). The K % 4 leftover k are
// single-k steps after the chunk loop (a masked chunk would cost a full chunk of loads).
//
// Why it looks the way it does (measured on SwiftShader, where each invocation is one lane of a
// 4-wide SIMD batch and every storage-buffer load is a per-lane gather):
//  - loads are the cost, so the block is large (up to 32×16 on CPU-emulated adapters; GPUs,
//    which want fewer registers per invocation, take TM = 4 from the same source, since rows
//    past TM are compile-time dead);
//  - nothing is indexed by a loop variable: SwiftShader does not unroll loops, and a
//    dynamically indexed local array lives in memory (10x slower). The block is spelled out as
//    named values updated by small functions, which the compiler inlines;
//  - avoid && and || here: they are branches, and SwiftShader's compile time explodes on them
//    once inlined into every row (& and | on bools are not short-circuit);
//  - vec4 arithmetic on rows of columns; plain a*b+c rather than fma() (some emulators lower
//    fma() to an exact, slow routine; GPU compilers fuse a*b+c anyway);
//  - scalar f32 bindings and 4 scalar loads per vec4 measured as fast as vec4 bindings here, and
//    need no alignment (loading vec4 weights and transposing in registers was 10% slower).
//
// Each kernel provides: BOUNDED and PHASED (bool constants), gather_a / gather_b / fetch_a (loads
// from its bindings), row_radix() and row_a(pos) (the row decomposed as (outer, mid, inner)
// digits), k_a / k_b (the k part of the A' and B' addresses for 4 k), and store_row / store1
// (the epilogue).

// TN consecutive columns of one row (of C, or of B'); v2 and v3 are unused when TN = 8.
struct Row { v0: vec4<f32>, v1: vec4<f32>, v2: vec4<f32>, v3: vec4<f32> }
// Rows k..k+3 of B' over the invocation's columns.
struct BChunk { k0: Row, k1: Row, k2: Row, k3: Row }
// 16 column offsets into b, already clamped and scaled.
struct Offsets { o0: vec4<u32>, o1: vec4<u32>, o2: vec4<u32>, o3: vec4<u32> }
// The row-dependent part of A' addressing for one row, and where the row's outputs go (`out`,
// the row's part of the output address). hr, wr: the row's phase modulo the stride (backward
// data with stride > 1 only; see PHASED).
struct RowA { off: u32, h: u32, w: u32, hr: u32, wr: u32, out: u32 }
// The k-dependent part for k..k+3 (or, in the single-k steps, k in .x), and the limits that
// h and w must stay below.
struct KA { ofs: vec4<u32>, h: vec4<u32>, w: vec4<u32>, hr: vec4<u32>, wr: vec4<u32>, lh: u32, lw: u32 }
// The TM rows of the block: their A' addressing, and their accumulators.
struct RowsA {
  r0: RowA, r1: RowA, r2: RowA, r3: RowA, r4: RowA, r5: RowA, r6: RowA, r7: RowA,
  r8: RowA, r9: RowA, r10: RowA, r11: RowA, r12: RowA, r13: RowA, r14: RowA, r15: RowA,
  r16: RowA, r17: RowA, r18: RowA, r19: RowA, r20: RowA, r21: RowA, r22: RowA, r23: RowA,
  r24: RowA, r25: RowA, r26: RowA, r27: RowA, r28: RowA, r29: RowA, r30: RowA, r31: RowA,
}
struct Acc {
  c0: Row, c1: Row, c2: Row, c3: Row, c4: Row, c5: Row, c6: Row, c7: Row,
  c8: Row, c9: Row, c10: Row, c11: Row, c12: Row, c13: Row, c14: Row, c15: Row,
  c16: Row, c17: Row, c18: Row, c19: Row, c20: Row, c21: Row, c22: Row, c23: Row,
  c24: Row, c25: Row, c26: Row, c27: Row, c28: Row, c29: Row, c30: Row, c31: Row,
}

// Offsets of indices i0..i0+15, each clamped to `last`, times `stride`.
fn offsets16(i0: u32, last: u32, stride: u32) -> Offsets {
  let q = vec4<u32>(0u, 1u, 2u, 3u);
  let l = vec4<u32>(last);
  return Offsets(min(i0 + q, l) * stride, min(i0 + 4u + q, l) * stride,
                 min(i0 + 8u + q, l) * stride, min(i0 + 12u + q, l) * stride);
}

// The first row and column of this invocation's block, the prologue of an unsplit GEMM's main:
// neighbouring invocations take neighbouring column blocks (of `ncols` columns in all), then the
// next rows (the workgroup grid may be folded into 2-D; see linear_workgroup).
fn invocation_origin(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, ncols: u32) -> vec2<u32> {
  let tile = linear_workgroup(wid, nwg) * WG_X + lid;
  let ctiles = (ncols + TN - 1u) / TN;
  return vec2<u32>((tile / ctiles) * TM, (tile % ctiles) * TN);
}

// The K loop of an unsplit GEMM: A'·B' for every k in [0, K) into the block's accumulators, four k
// at a time, then the leftover ones singly. Each kernel supplies k_a (A's offsets for four k) and
// k_b (B's row offsets for them).
fn accumulate_k(acc: ptr<function, Acc>, ra: ptr<function, RowsA>, cols: Offsets, K: u32) {
  let q = vec4<u32>(0u, 1u, 2u, 3u);
  var k = 0u;
  for (; k + 4u <= K; k += 4u) {
    let kv = k + q;
    chunk_update(acc, ra, k_a(kv), load_b_chunk(cols, k_b(kv)));
  }
  for (; k < K; k++) {
    let kv = vec4<u32>(k);
    step_update(acc, ra, k_a(kv), load_b_row(cols, k_b(kv).x));
  }
}

// ---- A' ---------------------------------------------------------------------------------------

// A'(m, k..k+3), zero where the tap falls outside the image.
fn load_a(r: RowA, kq: KA) -> vec4<f32> {
  if (!BOUNDED) { return gather_a(vec4<u32>(r.off) + kq.ofs); }
  var ok = (vec4<u32>(r.h) + kq.h < vec4<u32>(kq.lh)) & (vec4<u32>(r.w) + kq.w < vec4<u32>(kq.lw));
  if (PHASED) { ok = ok & (((vec4<u32>(r.hr) ^ kq.hr) | (vec4<u32>(r.wr) ^ kq.wr)) == vec4<u32>(0u)); }
  let o = select(vec4<u32>(0u), vec4<u32>(r.off) + kq.ofs, ok);
  return select(vec4<f32>(0.0), gather_a(o), ok);
}

// A'(m, k) for the single k in kq's .x components.
fn load_a1(r: RowA, kq: KA) -> f32 {
  if (!BOUNDED) { return fetch_a(r.off + kq.ofs.x); }
  var ok = (r.h + kq.h.x < kq.lh) & (r.w + kq.w.x < kq.lw);
  if (PHASED) { ok = ok & (((r.hr ^ kq.hr.x) | (r.wr ^ kq.wr.x)) == 0u); }
  return select(0.0, fetch_a(select(0u, r.off + kq.ofs.x, ok)), ok);
}

// Rows are consecutive m, so after the first their (outer, mid, inner) digits are stepped, not
// divided out. Rows past `last` repeat the last row.
fn first_pos(m: u32, radix: vec2<u32>) -> vec3<u32> {
  let inner = radix.x * radix.y;
  let o = m / inner;
  let r = m - o * inner;
  let mid = r / radix.y;
  return vec3<u32>(o, mid, r - mid * radix.y);
}

fn next_pos(p: vec3<u32>, radix: vec2<u32>) -> vec3<u32> {
  let z = p.z + 1u;
  let cz = z == radix.y;
  let y = p.y + select(0u, 1u, cz);
  let cy = y == radix.x;
  return vec3<u32>(p.x + select(0u, 1u, cy), select(y, 0u, cy), select(z, 0u, cz));
}

fn rows_a(m0: u32, last: u32) -> RowsA {
  let radix = row_radix();
  var p = first_pos(min(m0, last), radix);
  var r: RowsA;
  r.r0 = row_a(p);
  p = select(p, next_pos(p, radix), m0 + 1u <= last); r.r1 = row_a(p);
  p = select(p, next_pos(p, radix), m0 + 2u <= last); r.r2 = row_a(p);
  p = select(p, next_pos(p, radix), m0 + 3u <= last); r.r3 = row_a(p);
  if (TM > 4u) { p = select(p, next_pos(p, radix), m0 + 4u <= last); r.r4 = row_a(p); }
  if (TM > 5u) { p = select(p, next_pos(p, radix), m0 + 5u <= last); r.r5 = row_a(p); }
  if (TM > 6u) { p = select(p, next_pos(p, radix), m0 + 6u <= last); r.r6 = row_a(p); }
  if (TM > 7u) { p = select(p, next_pos(p, radix), m0 + 7u <= last); r.r7 = row_a(p); }
  if (TM > 8u) { p = select(p, next_pos(p, radix), m0 + 8u <= last); r.r8 = row_a(p); }
  if (TM > 9u) { p = select(p, next_pos(p, radix), m0 + 9u <= last); r.r9 = row_a(p); }
  if (TM > 10u) { p = select(p, next_pos(p, radix), m0 + 10u <= last); r.r10 = row_a(p); }
  if (TM > 11u) { p = select(p, next_pos(p, radix), m0 + 11u <= last); r.r11 = row_a(p); }
  if (TM > 12u) { p = select(p, next_pos(p, radix), m0 + 12u <= last); r.r12 = row_a(p); }
  if (TM > 13u) { p = select(p, next_pos(p, radix), m0 + 13u <= last); r.r13 = row_a(p); }
  if (TM > 14u) { p = select(p, next_pos(p, radix), m0 + 14u <= last); r.r14 = row_a(p); }
  if (TM > 15u) { p = select(p, next_pos(p, radix), m0 + 15u <= last); r.r15 = row_a(p); }
  if (TM > 16u) { p = select(p, next_pos(p, radix), m0 + 16u <= last); r.r16 = row_a(p); }
  if (TM > 17u) { p = select(p, next_pos(p, radix), m0 + 17u <= last); r.r17 = row_a(p); }
  if (TM > 18u) { p = select(p, next_pos(p, radix), m0 + 18u <= last); r.r18 = row_a(p); }
  if (TM > 19u) { p = select(p, next_pos(p, radix), m0 + 19u <= last); r.r19 = row_a(p); }
  if (TM > 20u) { p = select(p, next_pos(p, radix), m0 + 20u <= last); r.r20 = row_a(p); }
  if (TM > 21u) { p = select(p, next_pos(p, radix), m0 + 21u <= last); r.r21 = row_a(p); }
  if (TM > 22u) { p = select(p, next_pos(p, radix), m0 + 22u <= last); r.r22 = row_a(p); }
  if (TM > 23u) { p = select(p, next_pos(p, radix), m0 + 23u <= last); r.r23 = row_a(p); }
  if (TM > 24u) { p = select(p, next_pos(p, radix), m0 + 24u <= last); r.r24 = row_a(p); }
  if (TM > 25u) { p = select(p, next_pos(p, radix), m0 + 25u <= last); r.r25 = row_a(p); }
  if (TM > 26u) { p = select(p, next_pos(p, radix), m0 + 26u <= last); r.r26 = row_a(p); }
  if (TM > 27u) { p = select(p, next_pos(p, radix), m0 + 27u <= last); r.r27 = row_a(p); }
  if (TM > 28u) { p = select(p, next_pos(p, radix), m0 + 28u <= last); r.r28 = row_a(p); }
  if (TM > 29u) { p = select(p, next_pos(p, radix), m0 + 29u <= last); r.r29 = row_a(p); }
  if (TM > 30u) { p = select(p, next_pos(p, radix), m0 + 30u <= last); r.r30 = row_a(p); }
  if (TM > 31u) { p = select(p, next_pos(p, radix), m0 + 31u <= last); r.r31 = row_a(p); }
  return r;
}

// ---- B' ---------------------------------------------------------------------------------------

// B'(k, c0..c0+TN-1) for one k whose offset is `kb`.
fn load_b_row(cols: Offsets, kb: u32) -> Row {
  var r = Row(gather_b(cols.o0 + kb), gather_b(cols.o1 + kb), vec4<f32>(0.0), vec4<f32>(0.0));
  if (TN > 8u) {
    r.v2 = gather_b(cols.o2 + kb);
    r.v3 = gather_b(cols.o3 + kb);
  }
  return r;
}

fn load_b_chunk(cols: Offsets, kb: vec4<u32>) -> BChunk {
  return BChunk(load_b_row(cols, kb.x), load_b_row(cols, kb.y), load_b_row(cols, kb.z), load_b_row(cols, kb.w));
}

// ---- the update -------------------------------------------------------------------------------

// One row of C += A'(m, k..k+3) · B'(k..k+3, columns).
fn fma_row(c: Row, a4: vec4<f32>, bc: BChunk) -> Row {
  var r = c;
  r.v0 += a4.x * bc.k0.v0; r.v1 += a4.x * bc.k0.v1;
  r.v0 += a4.y * bc.k1.v0; r.v1 += a4.y * bc.k1.v1;
  r.v0 += a4.z * bc.k2.v0; r.v1 += a4.z * bc.k2.v1;
  r.v0 += a4.w * bc.k3.v0; r.v1 += a4.w * bc.k3.v1;
  if (TN > 8u) {
    r.v2 += a4.x * bc.k0.v2; r.v3 += a4.x * bc.k0.v3;
    r.v2 += a4.y * bc.k1.v2; r.v3 += a4.y * bc.k1.v3;
    r.v2 += a4.z * bc.k2.v2; r.v3 += a4.z * bc.k2.v3;
    r.v2 += a4.w * bc.k3.v2; r.v3 += a4.w * bc.k3.v3;
  }
  return r;
}

// One row of C += A'(m, k) · B'(k, columns).
fn fma_row1(c: Row, a: f32, b: Row) -> Row {
  var r = c;
  r.v0 += a * b.v0; r.v1 += a * b.v1;
  if (TN > 8u) { r.v2 += a * b.v2; r.v3 += a * b.v3; }
  return r;
}

// The chunk update for the whole block. Rows past TM are compile-time dead (TM is a pipeline
// constant), so one source serves every block height.
fn chunk_update(acc: ptr<function, Acc>, ra: ptr<function, RowsA>, kq: KA, bc: BChunk) {
  (*acc).c0 = fma_row((*acc).c0, load_a((*ra).r0, kq), bc);
  (*acc).c1 = fma_row((*acc).c1, load_a((*ra).r1, kq), bc);
  (*acc).c2 = fma_row((*acc).c2, load_a((*ra).r2, kq), bc);
  (*acc).c3 = fma_row((*acc).c3, load_a((*ra).r3, kq), bc);
  if (TM > 4u) { (*acc).c4 = fma_row((*acc).c4, load_a((*ra).r4, kq), bc); }
  if (TM > 5u) { (*acc).c5 = fma_row((*acc).c5, load_a((*ra).r5, kq), bc); }
  if (TM > 6u) { (*acc).c6 = fma_row((*acc).c6, load_a((*ra).r6, kq), bc); }
  if (TM > 7u) { (*acc).c7 = fma_row((*acc).c7, load_a((*ra).r7, kq), bc); }
  if (TM > 8u) { (*acc).c8 = fma_row((*acc).c8, load_a((*ra).r8, kq), bc); }
  if (TM > 9u) { (*acc).c9 = fma_row((*acc).c9, load_a((*ra).r9, kq), bc); }
  if (TM > 10u) { (*acc).c10 = fma_row((*acc).c10, load_a((*ra).r10, kq), bc); }
  if (TM > 11u) { (*acc).c11 = fma_row((*acc).c11, load_a((*ra).r11, kq), bc); }
  if (TM > 12u) { (*acc).c12 = fma_row((*acc).c12, load_a((*ra).r12, kq), bc); }
  if (TM > 13u) { (*acc).c13 = fma_row((*acc).c13, load_a((*ra).r13, kq), bc); }
  if (TM > 14u) { (*acc).c14 = fma_row((*acc).c14, load_a((*ra).r14, kq), bc); }
  if (TM > 15u) { (*acc).c15 = fma_row((*acc).c15, load_a((*ra).r15, kq), bc); }
  if (TM > 16u) { (*acc).c16 = fma_row((*acc).c16, load_a((*ra).r16, kq), bc); }
  if (TM > 17u) { (*acc).c17 = fma_row((*acc).c17, load_a((*ra).r17, kq), bc); }
  if (TM > 18u) { (*acc).c18 = fma_row((*acc).c18, load_a((*ra).r18, kq), bc); }
  if (TM > 19u) { (*acc).c19 = fma_row((*acc).c19, load_a((*ra).r19, kq), bc); }
  if (TM > 20u) { (*acc).c20 = fma_row((*acc).c20, load_a((*ra).r20, kq), bc); }
  if (TM > 21u) { (*acc).c21 = fma_row((*acc).c21, load_a((*ra).r21, kq), bc); }
  if (TM > 22u) { (*acc).c22 = fma_row((*acc).c22, load_a((*ra).r22, kq), bc); }
  if (TM > 23u) { (*acc).c23 = fma_row((*acc).c23, load_a((*ra).r23, kq), bc); }
  if (TM > 24u) { (*acc).c24 = fma_row((*acc).c24, load_a((*ra).r24, kq), bc); }
  if (TM > 25u) { (*acc).c25 = fma_row((*acc).c25, load_a((*ra).r25, kq), bc); }
  if (TM > 26u) { (*acc).c26 = fma_row((*acc).c26, load_a((*ra).r26, kq), bc); }
  if (TM > 27u) { (*acc).c27 = fma_row((*acc).c27, load_a((*ra).r27, kq), bc); }
  if (TM > 28u) { (*acc).c28 = fma_row((*acc).c28, load_a((*ra).r28, kq), bc); }
  if (TM > 29u) { (*acc).c29 = fma_row((*acc).c29, load_a((*ra).r29, kq), bc); }
  if (TM > 30u) { (*acc).c30 = fma_row((*acc).c30, load_a((*ra).r30, kq), bc); }
  if (TM > 31u) { (*acc).c31 = fma_row((*acc).c31, load_a((*ra).r31, kq), bc); }
}

// The single-k update (the K % 4 leftover k).
fn step_update(acc: ptr<function, Acc>, ra: ptr<function, RowsA>, kq: KA, b: Row) {
  (*acc).c0 = fma_row1((*acc).c0, load_a1((*ra).r0, kq), b);
  (*acc).c1 = fma_row1((*acc).c1, load_a1((*ra).r1, kq), b);
  (*acc).c2 = fma_row1((*acc).c2, load_a1((*ra).r2, kq), b);
  (*acc).c3 = fma_row1((*acc).c3, load_a1((*ra).r3, kq), b);
  if (TM > 4u) { (*acc).c4 = fma_row1((*acc).c4, load_a1((*ra).r4, kq), b); }
  if (TM > 5u) { (*acc).c5 = fma_row1((*acc).c5, load_a1((*ra).r5, kq), b); }
  if (TM > 6u) { (*acc).c6 = fma_row1((*acc).c6, load_a1((*ra).r6, kq), b); }
  if (TM > 7u) { (*acc).c7 = fma_row1((*acc).c7, load_a1((*ra).r7, kq), b); }
  if (TM > 8u) { (*acc).c8 = fma_row1((*acc).c8, load_a1((*ra).r8, kq), b); }
  if (TM > 9u) { (*acc).c9 = fma_row1((*acc).c9, load_a1((*ra).r9, kq), b); }
  if (TM > 10u) { (*acc).c10 = fma_row1((*acc).c10, load_a1((*ra).r10, kq), b); }
  if (TM > 11u) { (*acc).c11 = fma_row1((*acc).c11, load_a1((*ra).r11, kq), b); }
  if (TM > 12u) { (*acc).c12 = fma_row1((*acc).c12, load_a1((*ra).r12, kq), b); }
  if (TM > 13u) { (*acc).c13 = fma_row1((*acc).c13, load_a1((*ra).r13, kq), b); }
  if (TM > 14u) { (*acc).c14 = fma_row1((*acc).c14, load_a1((*ra).r14, kq), b); }
  if (TM > 15u) { (*acc).c15 = fma_row1((*acc).c15, load_a1((*ra).r15, kq), b); }
  if (TM > 16u) { (*acc).c16 = fma_row1((*acc).c16, load_a1((*ra).r16, kq), b); }
  if (TM > 17u) { (*acc).c17 = fma_row1((*acc).c17, load_a1((*ra).r17, kq), b); }
  if (TM > 18u) { (*acc).c18 = fma_row1((*acc).c18, load_a1((*ra).r18, kq), b); }
  if (TM > 19u) { (*acc).c19 = fma_row1((*acc).c19, load_a1((*ra).r19, kq), b); }
  if (TM > 20u) { (*acc).c20 = fma_row1((*acc).c20, load_a1((*ra).r20, kq), b); }
  if (TM > 21u) { (*acc).c21 = fma_row1((*acc).c21, load_a1((*ra).r21, kq), b); }
  if (TM > 22u) { (*acc).c22 = fma_row1((*acc).c22, load_a1((*ra).r22, kq), b); }
  if (TM > 23u) { (*acc).c23 = fma_row1((*acc).c23, load_a1((*ra).r23, kq), b); }
  if (TM > 24u) { (*acc).c24 = fma_row1((*acc).c24, load_a1((*ra).r24, kq), b); }
  if (TM > 25u) { (*acc).c25 = fma_row1((*acc).c25, load_a1((*ra).r25, kq), b); }
  if (TM > 26u) { (*acc).c26 = fma_row1((*acc).c26, load_a1((*ra).r26, kq), b); }
  if (TM > 27u) { (*acc).c27 = fma_row1((*acc).c27, load_a1((*ra).r27, kq), b); }
  if (TM > 28u) { (*acc).c28 = fma_row1((*acc).c28, load_a1((*ra).r28, kq), b); }
  if (TM > 29u) { (*acc).c29 = fma_row1((*acc).c29, load_a1((*ra).r29, kq), b); }
  if (TM > 30u) { (*acc).c30 = fma_row1((*acc).c30, load_a1((*ra).r30, kq), b); }
  if (TM > 31u) { (*acc).c31 = fma_row1((*acc).c31, load_a1((*ra).r31, kq), b); }
}

// ---- the epilogue -----------------------------------------------------------------------------
// Rows past the edge repeat the last row and columns past the edge the last column, bit for bit
// (same loads, same order of operations), so storing them to their clamped addresses rewrites
// the same value: no branch is needed unless the store reads what it overwrites (ACCUM), where
// the kernel's store_row checks `row_ok` and `c < ncols` itself.

// Each row goes to the kernel's store_row(out, row_ok, c0, oc, values), `out` being the row's
// part of the output address and `oc` the columns' (clamped) parts. A loop over a local copy of
// the block (a dynamically indexed array, so it lives in memory on SwiftShader) runs once per
// invocation and compiles many times faster than TM spelled-out row stores: those made a 32-row
// pipeline take 3-9 s to build there.
fn store_rows(acc: ptr<function, Acc>, ra: ptr<function, RowsA>, m0: u32, last: u32, c0: u32, oc: Offsets) {
  let rows = array<Row, 32>(
    (*acc).c0, (*acc).c1, (*acc).c2, (*acc).c3, (*acc).c4, (*acc).c5, (*acc).c6, (*acc).c7,
    (*acc).c8, (*acc).c9, (*acc).c10, (*acc).c11, (*acc).c12, (*acc).c13, (*acc).c14, (*acc).c15,
    (*acc).c16, (*acc).c17, (*acc).c18, (*acc).c19, (*acc).c20, (*acc).c21, (*acc).c22, (*acc).c23,
    (*acc).c24, (*acc).c25, (*acc).c26, (*acc).c27, (*acc).c28, (*acc).c29, (*acc).c30, (*acc).c31);
  let outs = array<u32, 32>(
    (*ra).r0.out, (*ra).r1.out, (*ra).r2.out, (*ra).r3.out, (*ra).r4.out, (*ra).r5.out, (*ra).r6.out, (*ra).r7.out,
    (*ra).r8.out, (*ra).r9.out, (*ra).r10.out, (*ra).r11.out, (*ra).r12.out, (*ra).r13.out, (*ra).r14.out, (*ra).r15.out,
    (*ra).r16.out, (*ra).r17.out, (*ra).r18.out, (*ra).r19.out, (*ra).r20.out, (*ra).r21.out, (*ra).r22.out, (*ra).r23.out,
    (*ra).r24.out, (*ra).r25.out, (*ra).r26.out, (*ra).r27.out, (*ra).r28.out, (*ra).r29.out, (*ra).r30.out, (*ra).r31.out);
  for (var i = 0u; i < TM; i++) {
    store_row(outs[i], m0 + i <= last, c0, oc, rows[i]);
  }
}

// A store_row for kernels that may accumulate: a store that reads what it overwrites (`accum`)
// must not run on the clamped duplicate rows past the edge.
fn store_row_once(accum: bool, out: u32, row_ok: bool, c0: u32, oc: Offsets, r: Row) {
  if (!accum | row_ok) { store_cols(out, c0, oc, r); }
}

// Stores a row's TN values through the kernel's store1(address, column, value).
fn store_cols(base: u32, c0: u32, oc: Offsets, r: Row) {
  store1(base + oc.o0.x, c0, r.v0.x); store1(base + oc.o0.y, c0 + 1u, r.v0.y);
  store1(base + oc.o0.z, c0 + 2u, r.v0.z); store1(base + oc.o0.w, c0 + 3u, r.v0.w);
  store1(base + oc.o1.x, c0 + 4u, r.v1.x); store1(base + oc.o1.y, c0 + 5u, r.v1.y);
  store1(base + oc.o1.z, c0 + 6u, r.v1.z); store1(base + oc.o1.w, c0 + 7u, r.v1.w);
  if (TN > 8u) {
    store1(base + oc.o2.x, c0 + 8u, r.v2.x); store1(base + oc.o2.y, c0 + 9u, r.v2.y);
    store1(base + oc.o2.z, c0 + 10u, r.v2.z); store1(base + oc.o2.w, c0 + 11u, r.v2.w);
    store1(base + oc.o3.x, c0 + 12u, r.v3.x); store1(base + oc.o3.y, c0 + 13u, r.v3.y);
    store1(base + oc.o3.z, c0 + 14u, r.v3.z); store1(base + oc.o3.w, c0 + 15u, r.v3.w);
  }
}
