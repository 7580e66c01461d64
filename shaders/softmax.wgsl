// Row-wise softmax (LOG = false) or log-softmax (LOG = true) of x / T over rows of length `cols`.
// One workgroup per row; max-subtracted, so logits of ±1e4 give no overflow.

var<workgroup> red: array<f32, WG_X>;

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

fn wg_sum(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG_X / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
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
