// y[n, co, oh, ow] = act(Σ_{ci, kh, kw} w[co, ci, kh, kw] · x[n, ci, oh·s − p + kh, ow·s − p + kw] + bias[co])
// As a GEMM (conv_common.wgsl): rows m = (n, oh, ow), columns co, reduction k = (ci, kh, kw);
//   A'(m, k) = x[n, ci, oh·s − p + kh, ow·s − p + kw]   (zero outside the image)
//   B'(k, co) = w[co·K + k]                              (K = CI·KH·KW)
// A' splits as x[row.off + kq.ofs]: row.off = n·CI·H·W + (oh·s − p)·W + (ow·s − p),
// kq.ofs = ci·H·W + kh·W + kw; the tap is inside when (oh·s − p) + kh < H and likewise for w.

fn gather_a(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(x[o.x], x[o.y], x[o.z], x[o.w]); }
fn fetch_a(i: u32) -> f32 { return x[i]; }
fn gather_b(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(wt[o.x], wt[o.y], wt[o.z], wt[o.w]); }

fn row_radix() -> vec2<u32> { return vec2<u32>(params.OH, params.OW); }

// Row (n, oh, ow).
fn row_a(p: vec3<u32>) -> RowA {
  let h = p.y * params.stride - params.pad;   // u32: "negative" wraps and fails h + kh < H
  let w = p.z * params.stride - params.pad;
  let out = p.x * params.CO * params.OH * params.OW + p.y * params.OW + p.z;
  return RowA(p.x * params.CI * params.H * params.W + h * params.W + w, h, w, 0u, 0u, out);
}

// k = (ci, kh, kw).
fn k_a(k: vec4<u32>) -> KA {
  let kk = params.KH * params.KW;
  let ci = k / kk;
  let t = k - ci * kk;
  let kh = t / params.KW;
  let kw = t - kh * params.KW;
  let z = vec4<u32>(0u);
  return KA(ci * (params.H * params.W) + kh * params.W + kw, kh, kw, z, z, params.H, params.W);
}

var<private> bias_row: Row;

fn store1(i: u32, co: u32, v: f32) {
  var r = v;
  if (ACT == 1u) { r = max(r, 0.0); }
  y[i] = r;
}

fn store_row(out: u32, row_ok: bool, c0: u32, oc: Offsets, r: Row) {
  var v = r;
  if (HAS_BIAS) { v.v0 += bias_row.v0; v.v1 += bias_row.v1; v.v2 += bias_row.v2; v.v3 += bias_row.v3; }
  store_cols(out, c0, oc, v);
}

fn load_bias(c0: u32) {
  let bo = offsets16(c0, params.CO - 1u, 1u);
  bias_row = Row(vec4<f32>(bias[bo.o0.x], bias[bo.o0.y], bias[bo.o0.z], bias[bo.o0.w]),
                 vec4<f32>(bias[bo.o1.x], bias[bo.o1.y], bias[bo.o1.z], bias[bo.o1.w]),
                 vec4<f32>(bias[bo.o2.x], bias[bo.o2.y], bias[bo.o2.z], bias[bo.o2.w]),
                 vec4<f32>(bias[bo.o3.x], bias[bo.o3.y], bias[bo.o3.z], bias[bo.o3.w]));
}

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let tile = linear_workgroup(wid, nwg) * WG_X + lid;
  let ctiles = (params.CO + TN - 1u) / TN;
  let m0 = (tile / ctiles) * TM;
  let c0 = (tile % ctiles) * TN;
  let last = params.N * params.OH * params.OW - 1u;
  if (m0 > last) { return; }
  let K = params.CI * params.KH * params.KW;

  var ra = rows_a(m0, last);
  let cols = offsets16(c0, params.CO - 1u, K);
  let q = vec4<u32>(0u, 1u, 2u, 3u);
  var acc: Acc;
  var k = 0u;
  for (; k + 4u <= K; k += 4u) {
    let kv = k + q;
    chunk_update(&acc, &ra, k_a(kv), load_b_chunk(cols, kv));
  }
  for (; k < K; k++) {
    step_update(&acc, &ra, k_a(vec4<u32>(k)), load_b_row(cols, k));
  }
  if (HAS_BIAS) { load_bias(c0); }
  store_rows(&acc, &ra, m0, last, c0, offsets16(c0, params.CO - 1u, params.OH * params.OW));
}
