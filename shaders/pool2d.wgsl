// 2-D pooling over NCHW planes; one invocation per output (forward) or per input (backward).
// MODE 0 max forward:  y = max over the window (padding never wins); arg = flat index h·W + w of
//                      the first maximum, kept for the backward. RELU_MASK (the input is the
//                      output of a fused ReLU, so ≥ 0): a window whose maximum is not > 0 gets
//                      arg = NO_WINNER, so the backward routes nothing there and its result is
//                      already the ReLU-masked gradient (the separate mask pass is skipped).
// MODE 1 max backward: dx[h, w] = Σ dy over the windows whose arg is (h, w): a gather over the
//                      windows covering (h, w), so no atomics and a fixed order.
// MODE 2 avg forward:  y = Σ window / (KH·KW) (padding counts as zeros, as PyTorch's default).
// MODE 3 avg backward: dx[h, w] = Σ dy / (KH·KW) over the windows covering (h, w).
// WIN2 (2×2 windows, stride 2, no padding — the common case) is straight-line code: every window
// lies inside the image and every input pixel is in at most one window, so there are no loops
// or bounds branches (they are slow on CPU-emulated devices). With EVEN (H and W even) the
// backward scatters from each window instead of gathering per input.

// The windows covering input coordinate t (along one axis): o with o·s − p ≤ t < o·s − p + k.
const NO_WINNER = 0xffffffffu;

fn first_window(t: u32, k: u32) -> u32 {
  let tp = t + params.pad;
  if (tp + 1u <= k) { return 0u; }
  return (tp + 1u - k + params.stride - 1u) / params.stride;
}

// WIN2: the first input pixel (h·W + w within its plane) of the window of output i.
fn window_at(i: u32) -> u32 {
  let o = i % (params.OH * params.OW);
  return (2u * (o / params.OW)) * params.W + 2u * (o % params.OW);
}

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG_X + lid;
  let ohw = params.OH * params.OW;
  let hw = params.H * params.W;
  if (WIN2 && (MODE == 0u || MODE == 2u)) {
    if (i >= params.planes * ohw) { return; }
    let at = window_at(i);
    let base = (i / ohw) * hw + at;
    let v = vec4<f32>(src[base], src[base + 1u], src[base + params.W], src[base + params.W + 1u]);
    if (MODE == 2u) {
      dst[i] = (v.x + v.y + v.z + v.w) * 0.25;
    } else {
      // First maximum in row-major window order, as the general path.
      var best = v.x;
      var best_at = at;
      if (v.y > best) { best = v.y; best_at = at + 1u; }
      if (v.z > best) { best = v.z; best_at = at + params.W; }
      if (v.w > best) { best = v.w; best_at = at + params.W + 1u; }
      dst[i] = best;
      arg[i] = select(best_at, NO_WINNER, RELU_MASK & !(best > 0.0));
    }
    return;
  }
  if (WIN2 && EVEN) {
    // Even H and W: the windows tile the image exactly, so one invocation per window writes its
    // four inputs (a quarter of the invocations of the gather form, and no bounds tests).
    if (i >= params.planes * ohw) { return; }
    let at = window_at(i);
    let base = (i / ohw) * hw + at;
    let g = src[i];
    if (MODE == 1u) {
      let a = arg[i];
      dst[base] = select(0.0, g, a == at);
      dst[base + 1u] = select(0.0, g, a == at + 1u);
      dst[base + params.W] = select(0.0, g, a == at + params.W);
      dst[base + params.W + 1u] = select(0.0, g, a == at + params.W + 1u);
    } else {
      let q = g * 0.25;
      dst[base] = q; dst[base + 1u] = q; dst[base + params.W] = q; dst[base + params.W + 1u] = q;
    }
    return;
  }
  if (WIN2) {
    if (i >= params.planes * hw) { return; }
    let plane = i / hw;
    let h = (i % hw) / params.W;
    let w = i % params.W;
    let oh = h / 2u;
    let ow = w / 2u;
    let inside = oh < params.OH && ow < params.OW;
    let o = plane * ohw + min(oh, params.OH - 1u) * params.OW + min(ow, params.OW - 1u);
    let g = src[o];
    if (MODE == 1u) {
      dst[i] = select(0.0, g, inside && arg[o] == h * params.W + w);
    } else {
      dst[i] = select(0.0, g * 0.25, inside);
    }
    return;
  }
  if (MODE == 0u || MODE == 2u) {
    if (i >= params.planes * ohw) { return; }
    let plane = i / ohw;
    let oh = (i % ohw) / params.OW;
    let ow = i % params.OW;
    let h0 = i32(oh * params.stride) - i32(params.pad);
    let w0 = i32(ow * params.stride) - i32(params.pad);
    var best = -3.4e38;
    var best_at = 0u;
    var sum = 0.0;
    for (var kh = 0u; kh < params.KH; kh++) {
      let h = h0 + i32(kh);
      if (h < 0 || h >= i32(params.H)) { continue; }
      for (var kw = 0u; kw < params.KW; kw++) {
        let w = w0 + i32(kw);
        if (w < 0 || w >= i32(params.W)) { continue; }
        let at = u32(h) * params.W + u32(w);
        let v = src[plane * hw + at];
        if (v > best) { best = v; best_at = at; }
        sum += v;
      }
    }
    if (MODE == 0u) {
      dst[i] = best;
      arg[i] = select(best_at, NO_WINNER, RELU_MASK & !(best > 0.0));
    } else {
      dst[i] = sum / f32(params.KH * params.KW);
    }
  } else {
    if (i >= params.planes * hw) { return; }
    let plane = i / hw;
    let h = (i % hw) / params.W;
    let w = i % params.W;
    let at = h * params.W + w;
    var g = 0.0;
    let oh_end = min((h + params.pad) / params.stride + 1u, params.OH);
    let ow_end = min((w + params.pad) / params.stride + 1u, params.OW);
    for (var oh = first_window(h, params.KH); oh < oh_end; oh++) {
      for (var ow = first_window(w, params.KW); ow < ow_end; ow++) {
        let o = plane * ohw + oh * params.OW + ow;
        if (MODE == 1u) {
          if (arg[o] == at) { g += src[o]; }
        } else {
          g += src[o];
        }
      }
    }
    if (MODE == 3u) { g = g / f32(params.KH * params.KW); }
    dst[i] = g;
  }
}
