// Fused softmax cross-entropy over logits [rows, cols] with integer labels, in one pass per row:
//   loss[r]    = logsumexp(z_r) − z_r[y_r]
//   grad[r, c] = grad_scale · (softmax(z_r)[c] − [c == y_r])      (grad_scale = 1/B for a mean loss)
//   correct[r] = 1 if argmax z_r == y_r else 0   (first maximum wins, as in the reference)
// PER_THREAD: one invocation per row (short rows: the usual [batch, classes] case); otherwise one
// workgroup per row with reductions in workgroup memory.

// `red` and wg_sum come from wg_sum.wgsl.
var<workgroup> red_idx: array<u32, WG_X>;

fn xent_row(row: u32) {
  let base = row * params.cols;
  let y = min(labels[row], params.cols - 1u);
  var m = -3.0e38;
  var argmax = 0u;
  for (var c = 0u; c < params.cols; c++) {
    let v = logits[base + c];
    if (v > m) { m = v; argmax = c; }
  }
  var s = 0.0;
  for (var c = 0u; c < params.cols; c++) { s += exp(logits[base + c] - m); }
  let inv_s = 1.0 / s;
  for (var c = 0u; c < params.cols; c++) {
    let p = exp(logits[base + c] - m) * inv_s;
    grad[base + c] = params.grad_scale * (p - select(0.0, 1.0, c == y));
  }
  loss[row] = m + log(s) - logits[base + y];
  correct[row] = select(0.0, 1.0, argmax == y);
}

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  if (PER_THREAD) {
    let r = linear_workgroup(wid, nwg) * WG_X + lid;
    if (r < params.rows) { xent_row(r); }
    return;
  }
  let row = linear_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let base = row * params.cols;
  let y = min(labels[row], params.cols - 1u);

  // Max and its first index.
  var m = -3.0e38;
  var mi = 0xffffffffu;
  for (var c = lid; c < params.cols; c += WG_X) {
    let v = logits[base + c];
    if (v > m) { m = v; mi = c; }
  }
  red[lid] = m;
  red_idx[lid] = mi;
  workgroupBarrier();
  for (var s = WG_X / 2u; s > 0u; s >>= 1u) {
    if (lid < s) {
      let o = red[lid + s];
      let oi = red_idx[lid + s];
      if (o > red[lid] || (o == red[lid] && oi < red_idx[lid])) { red[lid] = o; red_idx[lid] = oi; }
    }
    workgroupBarrier();
  }
  m = red[0];
  let argmax = red_idx[0];
  workgroupBarrier();

  var s = 0.0;
  for (var c = lid; c < params.cols; c += WG_X) { s += exp(logits[base + c] - m); }
  s = wg_sum(s, lid);
  let inv_s = 1.0 / s;
  for (var c = lid; c < params.cols; c += WG_X) {
    let p = exp(logits[base + c] - m) * inv_s;
    grad[base + c] = params.grad_scale * (p - select(0.0, 1.0, c == y));
  }
  if (lid == 0u) {
    loss[row] = m + log(s) - logits[base + y];
    correct[row] = select(0.0, 1.0, argmax == y);
  }
}
