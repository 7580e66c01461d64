// Row-wise softmax (LOG = false) or log-softmax (LOG = true) of x / T over rows of length `cols`.
// Max-subtracted, so logits of ±1e4 give no overflow.
// PER_THREAD: one invocation per row, no barriers (short rows, and CPU devices where barriers are
// costly); otherwise one workgroup per row with tree reductions in workgroup memory (long rows).

// `red` and wg_sum come from wg_sum.wgsl.

fn wg_max(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG_X / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn softmax_row(row: u32) {
  let base = row * params.cols;
  var m = -3.0e38;
  for (var c = 0u; c < params.cols; c++) { m = max(m, x[base + c] * params.inv_t); }
  var s = 0.0;
  for (var c = 0u; c < params.cols; c++) { s += exp(x[base + c] * params.inv_t - m); }
  if (LOG) {
    let log_s = log(s);
    for (var c = 0u; c < params.cols; c++) { out[base + c] = x[base + c] * params.inv_t - m - log_s; }
  } else {
    let inv_s = 1.0 / s;
    for (var c = 0u; c < params.cols; c++) { out[base + c] = exp(x[base + c] * params.inv_t - m) * inv_s; }
  }
}

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  if (PER_THREAD) {
    let r = linear_workgroup(wid, nwg) * WG_X + lid;
    if (r < params.rows) { softmax_row(r); }
    return;
  }
  let row = linear_workgroup(wid, nwg);
  if (row >= params.rows) { return; }   // uniform across the workgroup
  let base = row * params.cols;
  var m = -3.0e38;
  for (var c = lid; c < params.cols; c += WG_X) { m = max(m, x[base + c] * params.inv_t); }
  m = wg_max(m, lid);
  var s = 0.0;
  for (var c = lid; c < params.cols; c += WG_X) { s += exp(x[base + c] * params.inv_t - m); }
  s = wg_sum(s, lid);
  if (LOG) {
    let log_s = log(s);
    for (var c = lid; c < params.cols; c += WG_X) { out[base + c] = x[base + c] * params.inv_t - m - log_s; }
  } else {
    let inv_s = 1.0 / s;
    for (var c = lid; c < params.cols; c += WG_X) { out[base + c] = exp(x[base + c] * params.inv_t - m) * inv_s; }
  }
}
