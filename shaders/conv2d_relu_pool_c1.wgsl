// A first layer's conv + bias + ReLU + 2×2/2 max pool, as a direct convolution: one input
// channel, a 3×3 kernel, stride 1, padding 1, even H and W (so OH = H, OW = W). Outputs exactly
// as conv2d_forward.wgsl with POOL writes them: y [N, CO, H/2, W/2] and arg (the winner's index
// oh·W + ow in the conv output's plane, first maximum in window order, NO_WINNER when the
// window's maximum is not > 0).
//
// Why not the implicit GEMM: with one input channel its reduction is only 9 long, so per output
// pixel the GEMM gathers 9 taps for 9 multiply-adds per column and spends the rest on row setup
// and the epilogue (on SwiftShader: 13 ms for the student's conv1, 1.1 GFLOP/s). Here each
// invocation owns one image, one pooled row (two conv rows) and 4 output channels (a vec4),
// holds those channels' 9 weights in registers, and slides along the row one pooling window at a
// time: a window's 4×4 input patch shares 2 columns with the previous one, so each window loads
// 8 inputs for 144 multiply-adds. Columns are vec4 over the patch's 4 rows.
//
// The sum runs over k = kh·3 + kw in order from the first product, then adds the bias, as the
// GEMM does, so both give the same values.

// NO_WINNER, Rows, patch_rows() and column(): conv_c1_common.wgsl.

// The 9 weights of 4 output channels, tap by tap.
struct W9 { w0: vec4<f32>, w1: vec4<f32>, w2: vec4<f32>, w3: vec4<f32>, w4: vec4<f32>, w5: vec4<f32>, w6: vec4<f32>, w7: vec4<f32>, w8: vec4<f32> }

fn tap(co: vec4<u32>, t: u32) -> vec4<f32> {
  let o = co * 9u + vec4<u32>(t);
  return vec4<f32>(wt[o.x], wt[o.y], wt[o.z], wt[o.w]);
}

// One conv output pixel for the 4 channels: rows a (kh = 0), b, c of the patch, each the three
// taps kw = 0, 1, 2 (scalars of the patch's columns).
fn pixel(a: vec3<f32>, b: vec3<f32>, c: vec3<f32>, w: W9, bias4: vec4<f32>) -> vec4<f32> {
  var s = a.x * w.w0;
  s += a.y * w.w1;
  s += a.z * w.w2;
  s += b.x * w.w3;
  s += b.y * w.w4;
  s += b.z * w.w5;
  s += c.x * w.w6;
  s += c.y * w.w7;
  s += c.z * w.w8;
  if (HAS_BIAS) { s += bias4; }
  return max(s, vec4<f32>(0.0));
}

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let groups = (params.CO + 3u) / 4u;
  let PH = params.H / 2u;
  let PW = params.W / 2u;
  let id = linear_workgroup(wid, nwg) * WG_X + lid;
  if (id >= params.N * PH * groups) { return; }
  let g = id % groups;
  let r = id / groups;
  let ph = r % PH;
  let n = r / PH;

  let co = vec4<u32>(4u * g) + vec4<u32>(0u, 1u, 2u, 3u);
  let cok = co < vec4<u32>(params.CO);
  let coc = min(co, vec4<u32>(params.CO - 1u));
  let w = W9(tap(coc, 0u), tap(coc, 1u), tap(coc, 2u), tap(coc, 3u), tap(coc, 4u), tap(coc, 5u), tap(coc, 6u), tap(coc, 7u), tap(coc, 8u));
  var bias4 = vec4<f32>(0.0);
  if (HAS_BIAS) { bias4 = vec4<f32>(bias[coc.x], bias[coc.y], bias[coc.z], bias[coc.w]); }

  let rows = patch_rows(n, ph);
  let plane = PH * PW;
  let out0 = (n * params.CO) * plane + ph * PW;
  let outc = coc * plane;

  var c0 = vec4<f32>(0.0);         // column 2·pw − 1 (the padding, for pw = 0)
  var c1 = column(rows, 0u);       // column 2·pw
  for (var pw = 0u; pw < PW; pw++) {
    let c2 = column(rows, 2u * pw + 1u);
    let c3 = column(rows, 2u * pw + 2u);
    // Pixels (wy, wx) of the window: conv rows 2·ph + wy, columns 2·pw + wx; patch row wy + kh,
    // patch column wx + kw.
    let p00 = pixel(vec3<f32>(c0.x, c1.x, c2.x), vec3<f32>(c0.y, c1.y, c2.y), vec3<f32>(c0.z, c1.z, c2.z), w, bias4);
    let p01 = pixel(vec3<f32>(c1.x, c2.x, c3.x), vec3<f32>(c1.y, c2.y, c3.y), vec3<f32>(c1.z, c2.z, c3.z), w, bias4);
    let p10 = pixel(vec3<f32>(c0.y, c1.y, c2.y), vec3<f32>(c0.z, c1.z, c2.z), vec3<f32>(c0.w, c1.w, c2.w), w, bias4);
    let p11 = pixel(vec3<f32>(c1.y, c2.y, c3.y), vec3<f32>(c1.z, c2.z, c3.z), vec3<f32>(c1.w, c2.w, c3.w), w, bias4);
    // The window maximum, first in order (0,0), (0,1), (1,0), (1,1).
    let at = (2u * ph) * params.W + 2u * pw;
    var v = p00;
    var i = vec4<u32>(at);
    var m = p01 > v; v = select(v, p01, m); i = select(i, vec4<u32>(at + 1u), m);
    m = p10 > v; v = select(v, p10, m); i = select(i, vec4<u32>(at + params.W), m);
    m = p11 > v; v = select(v, p11, m); i = select(i, vec4<u32>(at + params.W + 1u), m);
    i = select(i, vec4<u32>(NO_WINNER), !(v > vec4<f32>(0.0)));
    let o = vec4<u32>(out0 + pw) + outc;
    y[o.x] = v.x; arg[o.x] = i.x;
    if (cok.y) { y[o.y] = v.y; arg[o.y] = i.y; }
    if (cok.z) { y[o.z] = v.z; arg[o.z] = i.z; }
    if (cok.w) { y[o.w] = v.w; arg[o.w] = i.w; }
    c0 = c2;
    c1 = c3;
  }
}
