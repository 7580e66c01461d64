// Last-layer influence scores (method.md §3), one invocation per training sample i:
//   g_i = (q_i − p_i) ⊗ h_i   (q_i = softmax_T(zs_i), p_i the revised teacher target)
//   s_i = −G_val · H⁻¹ g_i = −Σ_c (q_i − p_i)_c · u_i[c],   u_i = (G_val ⊘ H) h_i   (a GEMM, beforehand)
// With s_i < 0, distilling sample i lowers the validation loss. Rows address the dataset through
// idx (zt and labels are indexed by the dataset sample, zs and u by the row).

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG_X + lid;
  if (i >= params.rows) { return; }
  let k = idx[i];
  let y = min(labels[k], params.C - 1u);
  let t = teacher_target(k, y);
  var m = -3.0e38;
  for (var c = 0u; c < params.C; c++) { m = max(m, zs[i * params.C + c]); }
  var sum = 0.0;
  for (var c = 0u; c < params.C; c++) { sum += exp((zs[i * params.C + c] - m) * params.inv_t); }
  var s = 0.0;
  for (var c = 0u; c < params.C; c++) {
    let q = exp((zs[i * params.C + c] - m) * params.inv_t) / sum;
    let p = revised(teacher_prob(k, c, params.inv_t, t.st), c, y, t.beta);
    s += (q - p) * u[i * params.C + c];
  }
  score[i] = -s;
}
