// Winograd F(2×2, 3×3) (Lavin & Gray 2015) for a 3×3, stride-1 convolution, as three small
// transform passes around 16 batched GEMMs on the GEMM core (winograd_gemm.wgsl):
//
//   U[ξ](k, c) = (G g_{c,k} Gᵀ)[ξ]     g: the 3×3 filter from input channel k to output channel c
//   V[ξ](t, k) = (Bᵀ d_{t,k} B)[ξ]     d: the 4×4 input patch of 2×2 output tile t, channel k
//   M[ξ](t, c) = Σ_k V[ξ](t, k) · U[ξ](k, c)                      (ξ = 4i + j, i, j in 0..3)
//   y_{t,c}    = Aᵀ M_{t,c} A                                      (the tile's 2×2 outputs)
//
//   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 −1 −1].
//
// This file holds the three transforms; each kernel prepends MODE (0 weights, 1 input, 2 output).
// Layouts: U [16][K][C], V [16][K][T], M [16][C][T] (ξ outermost, so each GEMM of the batch is
// a plain strided GEMM; t innermost in V and M, so neighbouring invocations of the input and
// output transforms, which take neighbouring tiles, touch neighbouring addresses).
//
// The backward-data pass is the same computation on dy with pad' = 2 − pad and the filter
// flipped and channel-transposed (FLIP): dx = conv(dy, w'), w'[ci, co, a, b] = w[co, ci, 2−a, 2−b].

const NO_WINNER = 0xffffffffu;

// (v0, v1, v2, v3) ↦ Bᵀ·v along one axis.
fn bt(v: vec4<f32>) -> vec4<f32> { return vec4<f32>(v.x - v.z, v.y + v.z, v.z - v.y, v.y - v.w); }

// (g0, g1, g2) ↦ G·g along one axis.
fn gg(g: vec3<f32>) -> vec4<f32> {
  let s = 0.5 * (g.x + g.z);
  return vec4<f32>(g.x, s + 0.5 * g.y, s - 0.5 * g.y, g.z);
}

// (m0, m1, m2, m3) ↦ Aᵀ·m along one axis.
fn at(m: vec4<f32>) -> vec2<f32> { return vec2<f32>(m.x + m.y + m.z, m.y - m.z - m.w); }

// ---- MODE 0: weights. One invocation per (k, c); U[ξ·K·C + k·C + c]. ----------------------------

// Filter element (a, b) of the pair (k, c): forward, w[c, k, a, b] (w is [C][K][3][3]); FLIP,
// w[k, c, 2 − a, 2 − b] (w is the forward conv's [K][C][3][3]).
fn filter_row(k: u32, c: u32, a: u32) -> vec3<f32> {
  if (FLIP) {
    let o = ((k * params.C + c) * 3u + (2u - a)) * 3u;
    return vec3<f32>(src[o + 2u], src[o + 1u], src[o]);
  }
  let o = ((c * params.K + k) * 3u + a) * 3u;
  return vec3<f32>(src[o], src[o + 1u], src[o + 2u]);
}

fn weights(i: u32) {
  let kc = params.K * params.C;
  if (i >= kc) { return; }
  let k = i / params.C;
  let c = i - k * params.C;
  // Rows first (G along b), then columns (G along a).
  let r0 = gg(filter_row(k, c, 0u));
  let r1 = gg(filter_row(k, c, 1u));
  let r2 = gg(filter_row(k, c, 2u));
  let c0 = gg(vec3<f32>(r0.x, r1.x, r2.x));
  let c1 = gg(vec3<f32>(r0.y, r1.y, r2.y));
  let c2 = gg(vec3<f32>(r0.z, r1.z, r2.z));
  let c3 = gg(vec3<f32>(r0.w, r1.w, r2.w));
  // c_j holds column j of the 4×4 result: element (i, j) goes to ξ = 4i + j.
  dst[i] = c0.x;            dst[kc + i] = c1.x;       dst[2u * kc + i] = c2.x;  dst[3u * kc + i] = c3.x;
  dst[4u * kc + i] = c0.y;  dst[5u * kc + i] = c1.y;  dst[6u * kc + i] = c2.y;  dst[7u * kc + i] = c3.y;
  dst[8u * kc + i] = c0.z;  dst[9u * kc + i] = c1.z;  dst[10u * kc + i] = c2.z; dst[11u * kc + i] = c3.z;
  dst[12u * kc + i] = c0.w; dst[13u * kc + i] = c1.w; dst[14u * kc + i] = c2.w; dst[15u * kc + i] = c3.w;
}

// ---- MODE 1: input tiles. One invocation per (k, t); V[ξ·K·T + k·T + t]. ------------------------
// Tile t = (n, th, tw) reads rows 2·th − pad + 0..3 and columns 2·tw − pad + 0..3 of plane (n, k),
// zero outside the image (u32 coordinates: "negative" ones wrap and fail the same test).

fn patch_row(base: u32, h: u32, w: u32) -> vec4<f32> {
  let q = vec4<u32>(0u, 1u, 2u, 3u);
  let ok = (vec4<u32>(w) + q < vec4<u32>(params.W)) & vec4<bool>(h < params.H);
  let o = select(vec4<u32>(0u), vec4<u32>(base + h * params.W + w) + q, ok);
  return select(vec4<f32>(0.0), vec4<f32>(src[o.x], src[o.y], src[o.z], src[o.w]), ok);
}

fn inputs(i: u32) {
  let T = params.N * params.TH * params.TW;
  let kt = params.K * T;
  if (i >= kt) { return; }
  let k = i / T;
  let t = i - k * T;
  let n = t / (params.TH * params.TW);
  let r = t - n * (params.TH * params.TW);
  let th = r / params.TW;
  let tw = r - th * params.TW;
  let h = 2u * th - params.pad;
  let w = 2u * tw - params.pad;
  let base = (n * params.K + k) * params.H * params.W;
  // Bᵀ along the rows of the patch (per column, vectorised over the 4 columns), then along the columns.
  let d = bt_rows(patch_row(base, h, w), patch_row(base, h + 1u, w), patch_row(base, h + 2u, w), patch_row(base, h + 3u, w));
  let v0 = bt(d[0]);
  let v1 = bt(d[1]);
  let v2 = bt(d[2]);
  let v3 = bt(d[3]);
  dst[i] = v0.x;            dst[kt + i] = v0.y;       dst[2u * kt + i] = v0.z;  dst[3u * kt + i] = v0.w;
  dst[4u * kt + i] = v1.x;  dst[5u * kt + i] = v1.y;  dst[6u * kt + i] = v1.z;  dst[7u * kt + i] = v1.w;
  dst[8u * kt + i] = v2.x;  dst[9u * kt + i] = v2.y;  dst[10u * kt + i] = v2.z; dst[11u * kt + i] = v2.w;
  dst[12u * kt + i] = v3.x; dst[13u * kt + i] = v3.y; dst[14u * kt + i] = v3.z; dst[15u * kt + i] = v3.w;
}

// Bᵀ·d for the patch's rows d0..d3: row i of the result = Σ_r Bᵀ[i, r] · d_r.
fn bt_rows(d0: vec4<f32>, d1: vec4<f32>, d2: vec4<f32>, d3: vec4<f32>) -> array<vec4<f32>, 4> {
  return array<vec4<f32>, 4>(d0 - d2, d1 + d2, d2 - d1, d1 - d3);
}

// ---- MODE 2: output tiles. One invocation per (n, c, th, tw). ----------------------------------
// Reads M[ξ·C·T + c·T + t] and writes the tile's 2×2 outputs (those inside OH × OW) with bias and
// ReLU (ACT = 1), added to what is there (ACCUM), or, with POOL (OH and OW even, pad so that a
// tile is a pooling window), the tile's ReLU'd maximum and its winner as pool2d.wgsl with
// RELU_MASK writes them: the first maximum in the order (0,0), (0,1), (1,0), (1,1), NO_WINNER
// when it is not > 0.

fn outputs(i: u32) {
  let tiles = params.TH * params.TW;
  let T = params.N * tiles;
  if (i >= params.C * T) { return; }
  let plane = i / tiles;        // (n, c)
  let r = i - plane * tiles;    // (th, tw)
  let n = plane / params.C;
  let c = plane - n * params.C;
  let t = n * tiles + r;
  let ct = params.C * T;
  let o = c * T + t;
  let m0 = vec4<f32>(src[o], src[ct + o], src[2u * ct + o], src[3u * ct + o]);
  let m1 = vec4<f32>(src[4u * ct + o], src[5u * ct + o], src[6u * ct + o], src[7u * ct + o]);
  let m2 = vec4<f32>(src[8u * ct + o], src[9u * ct + o], src[10u * ct + o], src[11u * ct + o]);
  let m3 = vec4<f32>(src[12u * ct + o], src[13u * ct + o], src[14u * ct + o], src[15u * ct + o]);
  // Aᵀ along the rows i (m0..m3 are rows), then along the columns.
  let top = at(vec4<f32>(m0.x, m1.x, m2.x, m3.x));  // column 0 → output rows 0, 1
  let c1 = at(vec4<f32>(m0.y, m1.y, m2.y, m3.y));
  let c2 = at(vec4<f32>(m0.z, m1.z, m2.z, m3.z));
  let c3 = at(vec4<f32>(m0.w, m1.w, m2.w, m3.w));
  let row0 = at(vec4<f32>(top.x, c1.x, c2.x, c3.x));
  let row1 = at(vec4<f32>(top.y, c1.y, c2.y, c3.y));
  var y = vec4<f32>(row0.x, row0.y, row1.x, row1.y);   // (0,0), (0,1), (1,0), (1,1)
  if (HAS_BIAS) { y += vec4<f32>(bias[c]); }
  if (ACT == 1u) { y = max(y, vec4<f32>(0.0)); }
  let th = r / params.TW;
  let tw = r - th * params.TW;
  if (POOL) {
    let at0 = (2u * th) * params.OW + 2u * tw;
    var v = y.x;
    var a = at0;
    if (y.y > v) { v = y.y; a = at0 + 1u; }
    if (y.z > v) { v = y.z; a = at0 + params.OW; }
    if (y.w > v) { v = y.w; a = at0 + params.OW + 1u; }
    dst[i] = v;
    arg[i] = select(NO_WINNER, a, v > 0.0);
    return;
  }
  let oh = 2u * th;
  let ow = 2u * tw;
  let base = plane * params.OH * params.OW + oh * params.OW + ow;
  let right = ow + 1u < params.OW;
  let below = oh + 1u < params.OH;
  put(base, y.x);
  if (right) { put(base + 1u, y.y); }
  if (below) { put(base + params.OW, y.z); }
  if (right & below) { put(base + params.OW + 1u, y.w); }
}

fn put(j: u32, v: f32) {
  if (ACCUM) { dst[j] = v + dst[j]; } else { dst[j] = v; }
}

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG_X + lid;
  if (MODE == 0u) { weights(i); } else if (MODE == 1u) { inputs(i); } else { outputs(i); }
}
