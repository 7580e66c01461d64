// Fused distillation loss and its gradient w.r.t. the student logits, one invocation per sample,
// one pass over [B, C] (method.md §1, §3, §4). Row i of the batch is dataset sample k = idx[i]:
// its teacher logits zt[k] come from the teacher-target cache and its selection flag from mask[k].
// The teacher target is label-revised on the fly (REVISE), so nothing but logits is cached.
//
// METHOD 0, KD:  L_i = λ1·CE(y, softmax(zs)) + λ2·m_k·T²·KL(p ‖ softmax_T(zs))
//   ∂L_i/∂zs = λ1·(q − onehot) + λ2·m_k·T·(q_T − p)
// METHOD 1, DKD (mdistiller): L_i = λ1·CE + warm·m_k·T²·(α·TCKD + β_dkd·NCKD)
//   TCKD = KL([p_y, 1 − p_y] ‖ [q_y, 1 − q_y]) (q at T; revised p_y with LR, which changes only this term)
//   NCKD = KL(p̂ ‖ q̂), p̂, q̂ = softmax over the non-target classes of zt/T, zs/T
//   ∂TCKD/∂(zs/T): q_y − p_y at y;  q̂_c·(p_y − q_y) elsewhere.   ∂NCKD/∂(zs/T): q̂_c − p̂_c off y, 0 at y.
// With USE_MASK the cross-entropy weight is λ1 for a selected sample (m_k = 1) and rest_weight for
// one left out (m_k = 0): w_k = λ1·m_k + rest_weight·(1 − m_k) ("ground truth for the rest").
// The stored gradient is scaled by grad_scale (1/B: the batch mean).

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG_X + lid;
  if (i >= params.B) { return; }
  let k = idx[i];
  let y = min(labels[i], params.C - 1u);
  let t = 1.0 / params.inv_t;
  let m_k = select(1.0, mask[k], USE_MASK);
  let kd_w = params.lambda2 * m_k * params.warm;
  let ce_w = select(params.lambda1, params.lambda1 * m_k + params.rest_weight * (1.0 - m_k), USE_MASK);
  let row = i * params.C;

  // Student, pass 1: max (and argmax) of z, and of z over the non-target classes.
  var m1 = zs[row];
  var arg = 0u;
  var m_nt = -3.0e38;
  for (var c = 0u; c < params.C; c++) {
    let z = zs[row + c];
    if (z > m1) { m1 = z; arg = c; }
    if (c != y) { m_nt = max(m_nt, z); }
  }
  // Pass 2: the partition sums at T = 1 (CE) and at T; max(z/T) = max(z)/T for T > 0.
  var s1 = 0.0;
  var st_ = 0.0;
  var snt = 0.0;
  for (var c = 0u; c < params.C; c++) {
    let z = zs[row + c];
    s1 += exp(z - m1);
    st_ += exp((z - m1) * params.inv_t);
    if (METHOD == 1u && c != y) { snt += exp((z - m_nt) * params.inv_t); }
  }
  let lse1 = m1 + log(s1);
  let lse_t = m1 * params.inv_t + log(st_);
  let lse_nt = m_nt * params.inv_t + log(snt);   // DKD: log Σ_{c≠y} exp(z_c/T)

  // Teacher target at T, label-revised (one pass for the stats, two with β at T = 1).
  let tg = teacher_target(k, y);

  var loss = ce_w * (lse1 - zs[row + y]);
  if (METHOD == 0u) {
    var kl = 0.0;
    for (var c = 0u; c < params.C; c++) {
      let z = zs[row + c];
      let p = revised(teacher_prob(k, c, params.inv_t, tg.st), c, y, tg.beta);
      let log_q = z * params.inv_t - lse_t;
      if (p > 0.0) { kl += p * (log(p) - log_q); }
      let g = ce_w * (exp(z - lse1) - select(0.0, 1.0, c == y)) + kd_w * t * (exp(log_q) - p);
      grad[row + c] = params.grad_scale * g;
    }
    loss += kd_w * t * t * kl;
  } else {
    // Binary (target / rest) distributions. The teacher's rest is summed directly, never 1 − p_y.
    var pt_rest = 0.0;
    for (var c = 0u; c < params.C; c++) { if (c != y) { pt_rest += teacher_prob(k, c, params.inv_t, tg.st); } }
    let p_rest = tg.beta * pt_rest;
    let p_y = 1.0 - p_rest;
    let log_qy = zs[row + y] * params.inv_t - lse_t;
    let log_qrest = lse_nt - lse_t;
    let q_y = exp(log_qy);
    var tckd = 0.0;
    if (p_y > 0.0) { tckd += p_y * (log(p_y) - log_qy); }
    if (p_rest > 0.0) { tckd += p_rest * (log(p_rest) - log_qrest); }
    // Non-target teacher distribution p̂ = pt / pt_rest over c ≠ y (unchanged by LR).
    var nckd = 0.0;
    for (var c = 0u; c < params.C; c++) {
      let z = zs[row + c];
      var g = ce_w * (exp(z - lse1) - select(0.0, 1.0, c == y));
      if (c == y) {
        g += kd_w * t * params.alpha * (q_y - p_y);
      } else {
        let ph = select(0.0, teacher_prob(k, c, params.inv_t, tg.st) / pt_rest, pt_rest > 0.0);
        let log_qh = z * params.inv_t - lse_nt;
        let qh = exp(log_qh);
        if (ph > 0.0) { nckd += ph * (log(ph) - log_qh); }
        g += kd_w * t * (params.alpha * qh * (p_y - q_y) + params.beta_dkd * (qh - ph));
      }
      grad[row + c] = params.grad_scale * g;
    }
    loss += kd_w * t * t * (params.alpha * tckd + params.beta_dkd * nckd);
  }
  loss_out[i] = loss;
  correct[i] = select(0.0, 1.0, arg == y);
}
