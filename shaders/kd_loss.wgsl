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
  // Pass 2: the partition sums at T = 1 (CE) and at T, shifted by the max before scaling; every
  // log-probability below is (z − max)·scale − log Σ, exact for any finite logits.
  var s1 = 0.0;
  var st_ = 0.0;
  var snt = 0.0;
  for (var c = 0u; c < params.C; c++) {
    let z = zs[row + c];
    s1 += exp(z - m1);
    st_ += exp((z - m1) * params.inv_t);
    if (METHOD == 1u && c != y) { snt += exp((z - m_nt) * params.inv_t); }
  }
  let log_s1 = log(s1);
  let log_st = log(st_);
  let log_snt = log(snt);

  // Teacher target at T, label-revised (one pass for the stats, two with β at T = 1).
  let tg = teacher_target(k, y);
  let log_beta = log(tg.beta);

  var loss = ce_w * (log_s1 - (zs[row + y] - m1));
  if (METHOD == 0u) {
    var kl = 0.0;
    for (var c = 0u; c < params.C; c++) {
      let z = zs[row + c];
      let pt = teacher_prob(k, c, params.inv_t, tg.st);
      let p = revised(pt, c, y, tg.beta);
      let log_q = (z - m1) * params.inv_t - log_st;
      // log p in log domain off the target (p = β·pt there), so a tiny p keeps its exact log.
      let log_p = select(log(p), log_beta + teacher_log_prob(k, c, params.inv_t, tg.st), c != y || tg.beta == 1.0);
      if (p > 0.0) { kl += p * (log_p - log_q); }
      let g = ce_w * (exp(z - m1 - log_s1) - select(0.0, 1.0, c == y)) + kd_w * t * (exp(log_q) - p);
      grad[row + c] = params.grad_scale * g;
    }
    loss += kd_w * t * t * kl;
  } else {
    // Binary (target / rest) distributions. The teacher's rest comes from the non-target
    // log-sum-exp, never from 1 − p_y: log pt_rest = lse_nt − lse (both at T).
    let st_nt = teacher_stats_nt(k, y, params.inv_t);
    let log_pt_rest = (st_nt.m - tg.st.m) * params.inv_t + log(st_nt.s) - log(tg.st.s);
    let p_rest = tg.beta * exp(log_pt_rest);
    let log_p_rest = log_beta + log_pt_rest;
    let p_y = tg.beta * teacher_prob(k, y, params.inv_t, tg.st) + (1.0 - tg.beta);
    let log_qy = (zs[row + y] - m1) * params.inv_t - log_st;
    let log_qrest = (m_nt - m1) * params.inv_t + log_snt - log_st;
    let q_y = exp(log_qy);
    var tckd = p_rest * (log_p_rest - log_qrest);
    if (p_y > 0.0) { tckd += p_y * (log(p_y) - log_qy); }
    // Non-target teacher distribution p̂ = softmax over c ≠ y of zt/T (unchanged by LR), in log domain.
    let log_snt_t = log(st_nt.s);
    var nckd = 0.0;
    for (var c = 0u; c < params.C; c++) {
      let z = zs[row + c];
      var g = ce_w * (exp(z - m1 - log_s1) - select(0.0, 1.0, c == y));
      if (c == y) {
        g += kd_w * t * params.alpha * (q_y - p_y);
      } else {
        let log_ph = (zt[k * params.C + c] - st_nt.m) * params.inv_t - log_snt_t;
        let ph = exp(log_ph);
        let log_qh = (z - m_nt) * params.inv_t - log_snt;
        let qh = exp(log_qh);
        nckd += ph * (log_ph - log_qh);
        g += kd_w * t * (params.alpha * qh * (p_y - q_y) + params.beta_dkd * (qh - ph));
      }
      grad[row + c] = params.grad_scale * g;
    }
    loss += kd_w * t * t * (params.alpha * tckd + params.beta_dkd * nckd);
  }
  loss_out[i] = loss;
  correct[i] = select(0.0, 1.0, arg == y);
}
