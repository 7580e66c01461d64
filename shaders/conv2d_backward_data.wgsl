// dx[n, ci, h, w] = Σ_{co, kh, kw} dy[n, co, oh, ow] · w[co, ci, kh, kw]
//   over the (oh, ow) with oh·s − p + kh = h and ow·s − p + kw = w (when s divides and in range).
// As a GEMM: rows m = (n, h, w), columns ci, reduction k = (co, kh, kw). ACCUM adds into dx
// (gradient fan-in) instead of overwriting it.

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let hw = params.H * params.W;
  let rows = params.N * hw;
  let m0 = gid.y * TM;
  let c0 = gid.x * TN;
  if (m0 >= rows || c0 >= params.CI) { return; }
  let ohw = params.OH * params.OW;
  let kk = params.KH * params.KW;

  var ybase: array<u32, TM>;
  var hp: array<i32, TM>;   // h + pad
  var wp: array<i32, TM>;   // w + pad
  for (var i = 0u; i < TM; i++) {
    let m = min(m0 + i, rows - 1u);
    let n = m / hw;
    let r = m % hw;
    ybase[i] = n * params.CO * ohw;
    hp[i] = i32(r / params.W + params.pad);
    wp[i] = i32(r % params.W + params.pad);
  }
  var wbase: array<u32, TN>;
  for (var j = 0u; j < TN; j++) { wbase[j] = min(c0 + j, params.CI - 1u) * kk; }
  let s = i32(params.stride);

  var acc: array<array<f32, TN>, TM>;
  for (var co = 0u; co < params.CO; co++) {
    for (var kh = 0u; kh < params.KH; kh++) {
      for (var kw = 0u; kw < params.KW; kw++) {
        var av: array<f32, TM>;
        for (var i = 0u; i < TM; i++) {
          let th = hp[i] - i32(kh);
          let tw = wp[i] - i32(kw);
          let oh = th / s;
          let ow = tw / s;
          let ok = th >= 0 && tw >= 0 && oh * s == th && ow * s == tw && oh < i32(params.OH) && ow < i32(params.OW);
          let idx = ybase[i] + co * ohw + u32(clamp(oh, 0, i32(params.OH) - 1)) * params.OW + u32(clamp(ow, 0, i32(params.OW) - 1));
          av[i] = select(0.0, dy[idx], ok);
        }
        var bv: array<f32, TN>;
        let tap = kh * params.KW + kw;
        for (var j = 0u; j < TN; j++) { bv[j] = wt[co * params.CI * kk + wbase[j] + tap]; }
        for (var i = 0u; i < TM; i++) {
          for (var j = 0u; j < TN; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); }
        }
      }
    }
  }

  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= rows) { break; }
    let n = m / hw;
    let r = m % hw;
    for (var j = 0u; j < TN; j++) {
      let ci = c0 + j;
      if (ci >= params.CI) { break; }
      let o = (n * params.CI + ci) * hw + r;
      var v = acc[i][j];
      if (ACCUM) { v += dx[o]; }
      dx[o] = v;
    }
  }
}
