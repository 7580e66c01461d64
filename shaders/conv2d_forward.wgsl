// y[n, co, oh, ow] = act(Σ_{ci, kh, kw} w[co, ci, kh, kw] · x[n, ci, oh·s − p + kh, ow·s − p + kw] + bias[co])
// As a GEMM (gemm_core.wgsl): rows m = (n, oh, ow), columns co, reduction k = (ci, kh, kw);
//   A'(m, k) = x[n, ci, oh·s − p + kh, ow·s − p + kw]   (zero outside the image)
//   B'(k, co) = w[co·K + k]                              (K = CI·KH·KW)
// A' splits as x[row.off + kq.ofs]: row.off = n·CI·H·W + (oh·s − p)·W + (ow·s − p),
// kq.ofs = ci·H·W + kh·W + kw; the tap is inside when (oh·s − p) + kh < H and likewise for w.

//
// POOL (with ACT = 1): the 2×2, stride-2 max pool of the ReLU's output is fused into the epilogue.
// Rows are then ordered (n, ph, pw, wy, wx): row_radix() is (OH/2, 2·OW), with inner digit
// q = 4·pw + 2·wy + wx, so every 4 consecutive rows are one pooling window (TM is a multiple of
// 4). y receives the pooled [N, CO, OH/2, OW/2] output and arg the winners exactly as pool2d.wgsl
// with RELU_MASK writes them (first maximum in window order; NO_WINNER when the maximum is not
// > 0); the conv's own output is never written, since the backward needs only dy, x and w.

const BOUNDED: bool = true;   // taps may fall outside the image (gemm_core.wgsl)

const NO_WINNER = 0xffffffffu;

fn gather_a(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(x[o.x], x[o.y], x[o.z], x[o.w]); }
fn fetch_a(i: u32) -> f32 { return x[i]; }
fn gather_b(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(wt[o.x], wt[o.y], wt[o.z], wt[o.w]); }

fn row_radix() -> vec2<u32> {
  if (POOL) { return vec2<u32>(params.OH / 2u, 2u * params.OW); }
  return vec2<u32>(params.OH, params.OW);
}

// Row (n, oh, ow); with POOL, (n, ph, q) as above, and the window's first pixel oh·OW + ow goes
// in the row's `hr` (unused by the forward otherwise).
fn row_a(p: vec3<u32>) -> RowA {
  var oh = p.y;
  var ow = p.z;
  var out = p.x * params.CO * params.OH * params.OW + p.y * params.OW + p.z;
  var at = 0u;
  if (POOL) {
    let pw = p.z >> 2u;
    oh = 2u * p.y + ((p.z >> 1u) & 1u);
    ow = 2u * pw + (p.z & 1u);
    out = p.x * params.CO * (params.OH / 2u) * (params.OW / 2u) + p.y * (params.OW / 2u) + pw;
    at = (2u * p.y) * params.OW + 2u * pw;
  }
  let h = oh * params.stride - params.pad;   // u32: "negative" wraps and fails h + kh < H
  let w = ow * params.stride - params.pad;
  return RowA(p.x * params.CI * params.H * params.W + h * params.W + w, h, w, at, 0u, out);
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

// Weights are [CO, K] row-major: B'(k, co) is at co·K + k.
fn k_b(k: vec4<u32>) -> vec4<u32> { return k; }

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

// ---- POOL epilogue ----

// Bias and ReLU, as store_row and store1 apply them.
fn act_row(r: Row) -> Row {
  var v = r;
  if (HAS_BIAS) { v.v0 += bias_row.v0; v.v1 += bias_row.v1; v.v2 += bias_row.v2; v.v3 += bias_row.v3; }
  let z = vec4<f32>(0.0);
  return Row(max(v.v0, z), max(v.v1, z), max(v.v2, z), max(v.v3, z));
}

struct Best4 { v: vec4<f32>, i: vec4<u32> }

// The window maximum of 4 columns: rows a, b, c, d are pixels at, at + 1, at + OW, at + OW + 1.
fn best4(a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>, at: u32) -> Best4 {
  var v = a;
  var i = vec4<u32>(at);
  var m = b > v; v = select(v, b, m); i = select(i, vec4<u32>(at + 1u), m);
  m = c > v; v = select(v, c, m); i = select(i, vec4<u32>(at + params.OW), m);
  m = d > v; v = select(v, d, m); i = select(i, vec4<u32>(at + params.OW + 1u), m);
  return Best4(v, select(i, vec4<u32>(NO_WINNER), !(v > vec4<f32>(0.0))));
}

fn store_best(out: u32, o: vec4<u32>, b: Best4) {
  y[out + o.x] = b.v.x; arg[out + o.x] = b.i.x;
  y[out + o.y] = b.v.y; arg[out + o.y] = b.i.y;
  y[out + o.z] = b.v.z; arg[out + o.z] = b.i.z;
  y[out + o.w] = b.v.w; arg[out + o.w] = b.i.w;
}

// One window (4 rows); `ok` is false for the windows past the last row, which repeat the last
// row and must not overwrite the last window's maximum.
fn store_window(ok: bool, r: RowA, oc: Offsets, c0: Row, c1: Row, c2: Row, c3: Row) {
  if (!ok) { return; }
  let a = act_row(c0);
  let b = act_row(c1);
  let c = act_row(c2);
  let d = act_row(c3);
  store_best(r.out, oc.o0, best4(a.v0, b.v0, c.v0, d.v0, r.hr));
  store_best(r.out, oc.o1, best4(a.v1, b.v1, c.v1, d.v1, r.hr));
  if (TN > 8u) {
    store_best(r.out, oc.o2, best4(a.v2, b.v2, c.v2, d.v2, r.hr));
    store_best(r.out, oc.o3, best4(a.v3, b.v3, c.v3, d.v3, r.hr));
  }
}

// A loop over the windows, for the compile time (see store_rows in gemm_core.wgsl).
fn store_windows(acc: ptr<function, Acc>, ra: ptr<function, RowsA>, m0: u32, last: u32, oc: Offsets) {
  let rows = array<Row, 32>(
    (*acc).c0, (*acc).c1, (*acc).c2, (*acc).c3, (*acc).c4, (*acc).c5, (*acc).c6, (*acc).c7,
    (*acc).c8, (*acc).c9, (*acc).c10, (*acc).c11, (*acc).c12, (*acc).c13, (*acc).c14, (*acc).c15,
    (*acc).c16, (*acc).c17, (*acc).c18, (*acc).c19, (*acc).c20, (*acc).c21, (*acc).c22, (*acc).c23,
    (*acc).c24, (*acc).c25, (*acc).c26, (*acc).c27, (*acc).c28, (*acc).c29, (*acc).c30, (*acc).c31);
  let firsts = array<RowA, 8>((*ra).r0, (*ra).r4, (*ra).r8, (*ra).r12, (*ra).r16, (*ra).r20, (*ra).r24, (*ra).r28);
  for (var i = 0u; i < TM / 4u; i++) {
    let j = 4u * i;
    store_window(m0 + j <= last, firsts[i], oc, rows[j], rows[j + 1u], rows[j + 2u], rows[j + 3u]);
  }
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
  let origin = invocation_origin(wid, nwg, lid, params.CO);
  let m0 = origin.x;
  let c0 = origin.y;
  let last = params.N * params.OH * params.OW - 1u;
  if (m0 > last) { return; }
  let K = params.CI * params.KH * params.KW;

  var ra = rows_a(m0, last);
  var acc: Acc;
  accumulate_k(&acc, &ra, offsets16(c0, params.CO - 1u, K), K);
  if (HAS_BIAS) { load_bias(c0); }
  if (POOL) {
    store_windows(&acc, &ra, m0, last, offsets16(c0, params.CO - 1u, (params.OH / 2u) * (params.OW / 2u)));
  } else {
    store_rows(&acc, &ra, m0, last, c0, offsets16(c0, params.CO - 1u, params.OH * params.OW));
  }
}
