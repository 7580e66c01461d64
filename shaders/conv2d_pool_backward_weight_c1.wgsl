// The weight and bias gradients of conv2d_relu_pool_c1.wgsl's layer (one input channel, 3×3,
// stride 1, padding 1, even H and W) straight from the pooled output's gradient dp and the
// winners `arg`, with the max pool's backward fused in:
//
//   dw[co, kh, kw] = Σ_{n, ph, pw} dp[n, co, ph, pw] · x[n, oh + kh − 1, ow + kw − 1]
//   db[co]         = Σ_{n, ph, pw} dp[n, co, ph, pw]
//   over the windows with a winner (oh, ow) = arg[n, co, ph, pw] (NO_WINNER: the ReLU's mask).
//
// The unfused path writes the conv output's gradient (4× the pooled size, 3/4 zeros) and then
// runs the implicit-GEMM weight gradient over all of it; here each invocation owns one image, a
// run of pooled rows and 4 output channels (a vec4), slides along each pooled row as the forward
// does (a window's 4×4 input patch shares 2 columns with the previous one: 8 loads), picks for
// each channel the 3×3 patch under its winner (selects, no loads), and accumulates 9 + 1 vec4
// sums. Each invocation writes its sums to its row of `partial` [R, CO·9] and `pdb` [R, CO]
// (R = N · row runs); reduce_axis adds the rows in a fixed order, so the result is deterministic.

// NO_WINNER, Rows, patch_rows() and column(): conv_c1_common.wgsl.

// Per channel, the patch value under its winner for one tap: candidates for the winner at
// (0,0), (0,1), (1,0), (1,1) of the window.
fn pick(v00: f32, v01: f32, v10: f32, v11: f32, m01: vec4<bool>, m10: vec4<bool>, m11: vec4<bool>) -> vec4<f32> {
  var v = vec4<f32>(v00);
  v = select(v, vec4<f32>(v01), m01);
  v = select(v, vec4<f32>(v10), m10);
  return select(v, vec4<f32>(v11), m11);
}

struct Acc9 { t0: vec4<f32>, t1: vec4<f32>, t2: vec4<f32>, t3: vec4<f32>, t4: vec4<f32>, t5: vec4<f32>, t6: vec4<f32>, t7: vec4<f32>, t8: vec4<f32>, b: vec4<f32> }

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let groups = (params.CO + 3u) / 4u;
  let PH = params.H / 2u;
  let PW = params.W / 2u;
  let runs = (PH + params.rows_per - 1u) / params.rows_per;
  let id = linear_workgroup(wid, nwg) * WG_X + lid;
  if (id >= params.N * runs * groups) { return; }
  let g = id % groups;
  let rr = id / groups;        // = n · runs + run: the row of partial and pdb
  let run = rr % runs;
  let n = rr / runs;

  let co = vec4<u32>(4u * g) + vec4<u32>(0u, 1u, 2u, 3u);
  let cok = co < vec4<u32>(params.CO);
  let coc = min(co, vec4<u32>(params.CO - 1u));
  let plane = PH * PW;
  let dpc = (vec4<u32>(n * params.CO) + coc) * plane;

  var a: Acc9;
  let ph1 = min(PH, (run + 1u) * params.rows_per);
  for (var ph = run * params.rows_per; ph < ph1; ph++) {
    let rows = patch_rows(n, ph);
    var c0 = vec4<f32>(0.0);
    var c1 = column(rows, 0u);
    for (var pw = 0u; pw < PW; pw++) {
      let c2 = column(rows, 2u * pw + 1u);
      let c3 = column(rows, 2u * pw + 2u);
      let o = dpc + vec4<u32>(ph * PW + pw);
      let win = vec4<u32>(arg[o.x], arg[o.y], arg[o.z], arg[o.w]);
      let at = (2u * ph) * params.W + 2u * pw;
      let m01 = win == vec4<u32>(at + 1u);
      let m10 = win == vec4<u32>(at + params.W);
      let m11 = win == vec4<u32>(at + params.W + 1u);
      let d = select(vec4<f32>(0.0), vec4<f32>(dp[o.x], dp[o.y], dp[o.z], dp[o.w]), win != vec4<u32>(NO_WINNER));
      // Tap (kh, kw) under the winner (wy, wx) is patch row wy + kh, column wx + kw.
      a.t0 += d * pick(c0.x, c1.x, c0.y, c1.y, m01, m10, m11);
      a.t1 += d * pick(c1.x, c2.x, c1.y, c2.y, m01, m10, m11);
      a.t2 += d * pick(c2.x, c3.x, c2.y, c3.y, m01, m10, m11);
      a.t3 += d * pick(c0.y, c1.y, c0.z, c1.z, m01, m10, m11);
      a.t4 += d * pick(c1.y, c2.y, c1.z, c2.z, m01, m10, m11);
      a.t5 += d * pick(c2.y, c3.y, c2.z, c3.z, m01, m10, m11);
      a.t6 += d * pick(c0.z, c1.z, c0.w, c1.w, m01, m10, m11);
      a.t7 += d * pick(c1.z, c2.z, c1.w, c2.w, m01, m10, m11);
      a.t8 += d * pick(c2.z, c3.z, c2.w, c3.w, m01, m10, m11);
      a.b += d;
      c0 = c2;
      c1 = c3;
    }
  }
  let pw0 = rr * params.CO * 9u;
  let ts = array<vec4<f32>, 9>(a.t0, a.t1, a.t2, a.t3, a.t4, a.t5, a.t6, a.t7, a.t8);
  for (var j = 0u; j < 4u; j++) {
    if (cok[j]) {
      let base = pw0 + co[j] * 9u;
      for (var t = 0u; t < 9u; t++) { partial[base + t] = ts[t][j]; }
      pdb[rr * params.CO + co[j]] = a.b[j];
    }
  }
}
