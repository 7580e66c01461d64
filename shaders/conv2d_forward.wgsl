// y[n, co, oh, ow] = act(Σ_{ci, kh, kw} w[co, ci, kh, kw] · x[n, ci, oh·s − p + kh, ow·s − p + kw] + bias[co])
// As a GEMM: rows m = (n, oh, ow), columns co, reduction k = (ci, kh, kw). Each invocation owns
// TM output pixels × TN output channels in registers; rows and columns past the edge are
// clamped to valid ones and dropped at the store, so the k loop has no bounds branches.

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ohw = params.OH * params.OW;
  let rows = params.N * ohw;
  let m0 = gid.y * TM;
  let c0 = gid.x * TN;
  if (m0 >= rows || c0 >= params.CO) { return; }
  let hw = params.H * params.W;
  let kk = params.KH * params.KW;

  var xbase: array<u32, TM>;
  var ih0: array<i32, TM>;
  var iw0: array<i32, TM>;
  for (var i = 0u; i < TM; i++) {
    let m = min(m0 + i, rows - 1u);
    let n = m / ohw;
    let r = m % ohw;
    xbase[i] = n * params.CI * hw;
    ih0[i] = i32((r / params.OW) * params.stride) - i32(params.pad);
    iw0[i] = i32((r % params.OW) * params.stride) - i32(params.pad);
  }
  var wbase: array<u32, TN>;
  for (var j = 0u; j < TN; j++) { wbase[j] = min(c0 + j, params.CO - 1u) * params.CI * kk; }

  var acc: array<array<f32, TN>, TM>;
  var k = 0u;
  for (var ci = 0u; ci < params.CI; ci++) {
    for (var kh = 0u; kh < params.KH; kh++) {
      for (var kw = 0u; kw < params.KW; kw++) {
        var av: array<f32, TM>;
        for (var i = 0u; i < TM; i++) {
          let h = ih0[i] + i32(kh);
          let w_ = iw0[i] + i32(kw);
          av[i] = select(0.0, x[xbase[i] + ci * hw + clamped_pixel(h, w_)], in_image(h, w_));
        }
        var bv: array<f32, TN>;
        for (var j = 0u; j < TN; j++) { bv[j] = wt[wbase[j] + k]; }
        for (var i = 0u; i < TM; i++) {
          for (var j = 0u; j < TN; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); }
        }
        k++;
      }
    }
  }

  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= rows) { break; }
    let n = m / ohw;
    let r = m % ohw;
    for (var j = 0u; j < TN; j++) {
      let co = c0 + j;
      if (co >= params.CO) { break; }
      var v = acc[i][j];
      if (HAS_BIAS) { v += bias[co]; }
      if (ACT == 1u) { v = max(v, 0.0); }
      y[(n * params.CO + co) * ohw + r] = v;
    }
  }
}
