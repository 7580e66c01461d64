// dw[co, ci, kh, kw] = Σ_{n, oh, ow} dy[n, co, oh, ow] · x[n, ci, oh·s − p + kh, ow·s − p + kw]
// (and db[co] = Σ_{n, oh, ow} dy[n, co, oh, ow] when HAS_DB).
// As a GEMM (gemm_core.wgsl) with the image operand as rows, so that the columns are the
// output channels (the wider of the two for the first layers, where CI·KH·KW = 9):
//   rows j = (ci, kh, kw), columns co, reduction k = (n, oh, ow);
//   A'(j, k) = x[n, ci, oh·s − p + kh, ow·s − p + kw] = x[row.off + kq.ofs],
//     row.off = ci·H·W + (kh − p)·W + (kw − p), kq.ofs = n·CI·H·W + oh·s·W + ow·s;
//   B'(k, co) = dy[n·CO·OH·OW + co·OH·OW + oh·OW + ow].
// The reduction (batch × output pixels) is long and the output small, so it is split S ways:
// split s sums the chunks of 4 k numbered s, s + S, s + 2S, … (interleaved, so that neighbouring
// invocations read neighbouring pixels) into partial[s, co, j], and the bias gradient into
// pdb[s, co]; a deterministic reduce over s follows (no atomics).

const BOUNDED: bool = true;   // taps may fall outside the image (gemm_core.wgsl)

fn gather_a(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(x[o.x], x[o.y], x[o.z], x[o.w]); }
fn fetch_a(i: u32) -> f32 { return x[i]; }
fn gather_b(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(dy[o.x], dy[o.y], dy[o.z], dy[o.w]); }

var<private> split: u32;

fn row_radix() -> vec2<u32> { return vec2<u32>(params.KH, params.KW); }

// Row j = (ci, kh, kw).
fn row_a(p: vec3<u32>) -> RowA {
  let h = p.y - params.pad;                 // u32: "negative" wraps and fails oh·s + h < H
  let w = p.z - params.pad;
  let J = params.CI * params.KH * params.KW;
  let out = split * params.CO * J + (p.x * params.KH + p.y) * params.KW + p.z;
  return RowA(p.x * params.H * params.W + h * params.W + w, h, w, 0u, 0u, out);
}

// k = (n, oh, ow).
fn k_a(k: vec4<u32>) -> KA {
  let ohw = params.OH * params.OW;
  let n = k / ohw;
  let r = k - n * ohw;
  let oh = r / params.OW;
  let hs = oh * params.stride;
  let ws = (r - oh * params.OW) * params.stride;
  let z = vec4<u32>(0u);
  return KA(n * (params.CI * params.H * params.W) + hs * params.W + ws, hs, ws, z, z, params.H, params.W);
}

// B'(k, co) = dy[kb(k) + co·OH·OW].
fn k_b(k: vec4<u32>) -> vec4<u32> {
  let ohw = params.OH * params.OW;
  let n = k / ohw;
  return n * (params.CO * ohw) + (k - n * ohw);
}

fn store1(i: u32, co: u32, v: f32) { partial[i] = v; }

// pdb[base + oc] = r (columns past the edge rewrite the last column's identical value).
fn store_db(base: u32, oc: Offsets, r: Row) {
  pdb[base + oc.o0.x] = r.v0.x; pdb[base + oc.o0.y] = r.v0.y; pdb[base + oc.o0.z] = r.v0.z; pdb[base + oc.o0.w] = r.v0.w;
  pdb[base + oc.o1.x] = r.v1.x; pdb[base + oc.o1.y] = r.v1.y; pdb[base + oc.o1.z] = r.v1.z; pdb[base + oc.o1.w] = r.v1.w;
  if (TN > 8u) {
    pdb[base + oc.o2.x] = r.v2.x; pdb[base + oc.o2.y] = r.v2.y; pdb[base + oc.o2.z] = r.v2.z; pdb[base + oc.o2.w] = r.v2.w;
    pdb[base + oc.o3.x] = r.v3.x; pdb[base + oc.o3.y] = r.v3.y; pdb[base + oc.o3.z] = r.v3.z; pdb[base + oc.o3.w] = r.v3.w;
  }
}

fn store_row(out: u32, row_ok: bool, c0: u32, oc: Offsets, r: Row) { store_cols(out, c0, oc, r); }

fn add_row(a: Row, b: Row) -> Row { return Row(a.v0 + b.v0, a.v1 + b.v1, a.v2 + b.v2, a.v3 + b.v3); }

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let g = linear_workgroup(wid, nwg) * WG_X + lid;
  let S = params.splits;
  let tile = g / S;
  split = g - tile * S;
  let ctiles = (params.CO + TN - 1u) / TN;
  let m0 = (tile / ctiles) * TM;
  let c0 = (tile % ctiles) * TN;
  let last = params.CI * params.KH * params.KW - 1u;
  if (m0 > last) { return; }
  let K = params.N * params.OH * params.OW;
  let chunks = K / 4u;

  var ra = rows_a(m0, last);
  let cols = offsets16(c0, params.CO - 1u, params.OH * params.OW);
  let q = vec4<u32>(0u, 1u, 2u, 3u);
  var acc: Acc;
  var dbs = Row();
  for (var c = split; c < chunks; c += S) {
    let kv = 4u * c + q;
    let bc = load_b_chunk(cols, k_b(kv));
    chunk_update(&acc, &ra, k_a(kv), bc);
    if (HAS_DB) { dbs = add_row(dbs, add_row(add_row(bc.k0, bc.k1), add_row(bc.k2, bc.k3))); }
  }
  // The K % 4 leftover k, one at a time, by the split whose turn it is.
  if (split == chunks % S) {
    for (var k = 4u * chunks; k < K; k++) {
      let kv = vec4<u32>(k);
      let b = load_b_row(cols, k_b(kv).x);
      step_update(&acc, &ra, k_a(kv), b);
      if (HAS_DB) { dbs = add_row(dbs, b); }
    }
  }
  store_rows(&acc, &ra, m0, last, c0, offsets16(c0, params.CO - 1u, last + 1u));
  // The bias gradient (the column sums of B'), by the first row block of each column block.
  if (HAS_DB) {
    if (m0 == 0u) { store_db(split * params.CO, offsets16(c0, params.CO - 1u, 1u), dbs); }
  }
}
