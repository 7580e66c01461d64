// dw[co, ci, kh, kw] = Σ_{n, oh, ow} dy[n, co, oh, ow] · x[n, ci, oh·s − p + kh, ow·s − p + kw]
// As a GEMM: rows co, columns j = (ci, kh, kw), reduction k = (n, oh, ow). The reduction is long
// (batch × output pixels) and the output small, so it is split: workgroup z sums k in
// [z·chunk, (z+1)·chunk) into partial[z, co, j]; a deterministic reduce over z follows.

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let kk = params.KH * params.KW;
  let cols = params.CI * kk;
  let m0 = gid.y * TM;
  let c0 = gid.x * TN;
  if (m0 >= params.CO || c0 >= cols) { return; }
  let ohw = params.OH * params.OW;
  let hw = params.H * params.W;
  let total = params.N * ohw;
  let k_begin = gid.z * params.chunk;
  let k_end = min(k_begin + params.chunk, total);

  var co_: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { co_[i] = min(m0 + i, params.CO - 1u); }
  var xoff: array<u32, TN>;   // ci·H·W
  var dh: array<i32, TN>;     // kh − pad
  var dw_: array<i32, TN>;    // kw − pad
  for (var j = 0u; j < TN; j++) {
    let c = min(c0 + j, cols - 1u);
    let ci = c / kk;
    let tap = c % kk;
    xoff[j] = ci * hw;
    dh[j] = i32(tap / params.KW) - i32(params.pad);
    dw_[j] = i32(tap % params.KW) - i32(params.pad);
  }

  var acc: array<array<f32, TN>, TM>;
  if (k_begin < k_end) {
    var n = k_begin / ohw;
    var r = k_begin % ohw;
    for (var k = k_begin; k < k_end; k++) {
      let oh = r / params.OW;
      let ow = r % params.OW;
      var av: array<f32, TM>;
      for (var i = 0u; i < TM; i++) { av[i] = dy[(n * params.CO + co_[i]) * ohw + r]; }
      var bv: array<f32, TN>;
      let xb = n * params.CI * hw;
      for (var j = 0u; j < TN; j++) {
        let h = i32(oh * params.stride) + dh[j];
        let w_ = i32(ow * params.stride) + dw_[j];
        bv[j] = select(0.0, x[xb + xoff[j] + clamped_pixel(h, w_)], in_image(h, w_));
      }
      for (var i = 0u; i < TM; i++) {
        for (var j = 0u; j < TN; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); }
      }
      r++;
      if (r == ohw) { r = 0u; n++; }
    }
  }

  let base = gid.z * params.CO * cols;
  for (var i = 0u; i < TM; i++) {
    let co = m0 + i;
    if (co >= params.CO) { break; }
    for (var j = 0u; j < TN; j++) {
      let c = c0 + j;
      if (c >= cols) { break; }
      partial[base + co * cols + c] = acc[i][j];
    }
  }
}
