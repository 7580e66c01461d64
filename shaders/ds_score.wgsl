// Data-selection scores that need no gradient (method.md §3b), one invocation per scored row i
// (dataset sample k = idx[i]). Lower score = distil first, so every scorer feeds the same
// per-class rule and select_mask kernel.
//   SCORE 0, teacher-margin:  −(pt[y] − max_{c≠y} pt[c])   (the teacher's confidence in the label)
//   SCORE 1, teacher-entropy: H(pt) = −Σ pt log pt          (the teacher's uncertainty)
//   SCORE 2, student-need:    −KL(p ‖ q)                    (q = softmax_T(zs_i), p the revised target:
//                                                             the student's distance from its target)
// pt = softmax_T(zt_k) is the teacher's own (ensemble) distribution at the KD temperature.

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG_X + lid;
  if (i >= params.rows) { return; }
  let k = idx[i];
  let y = min(labels[k], params.C - 1u);
  let t = teacher_target(k, y);
  if (SCORE == 0u) {
    var other = 0.0;
    for (var c = 0u; c < params.C; c++) {
      if (c != y) { other = max(other, teacher_prob(k, c, params.inv_t, t.st)); }
    }
    score[i] = other - teacher_prob(k, y, params.inv_t, t.st);
  } else if (SCORE == 1u) {
    var h = 0.0;
    for (var c = 0u; c < params.C; c++) {
      let lp = teacher_log_prob(k, c, params.inv_t, t.st);
      h -= exp(lp) * lp;
    }
    score[i] = h;
  } else {
    var m = -3.0e38;
    for (var c = 0u; c < params.C; c++) { m = max(m, zs[i * params.C + c]); }
    var sum = 0.0;
    for (var c = 0u; c < params.C; c++) { sum += exp((zs[i * params.C + c] - m) * params.inv_t); }
    let lse = log(sum);
    var kl = 0.0;
    for (var c = 0u; c < params.C; c++) {
      let p = revised(teacher_prob(k, c, params.inv_t, t.st), c, y, t.beta);
      if (p > 0.0) { kl += p * (log(p) - ((zs[i * params.C + c] - m) * params.inv_t - lse)); }
    }
    score[i] = -kl;
  }
}
