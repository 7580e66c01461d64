// Several teachers, one target (method.md §3b). zk holds K teachers' logits, [K, N, C].
//
// ensemble_target, one invocation per sample k: logits z whose softmax at T is the ensemble's target.
//   MEAN 0 (probabilities): p̄ = mean_j softmax_T(z_j). Written as logits relative to teacher 0,
//     z[c] = z_0[c] + T·log mean_j exp(a_j[c]),  a_j[c] = ((z_j[c] − z_0[c]) − (s_j − s_0)) / T,
//     s_j = T·logsumexp(z_j / T); z differs from T·log p̄ by the row constant s_0, which softmax
//     ignores. Teachers that agree exactly give a_j = 0, so z = z_0 bit for bit: an ensemble of
//     identical teachers is the single teacher. The inner sum is shifted by its max over j.
//   MEAN 1 (logits): z = mean_j z_j.
// ensemble_disagreement, one invocation per scored row i (k = idx[i]): Var_j softmax_T(z_j)[y],
//   the spread of the teachers' probabilities for the label (distil where they agree).

fn lse_t(j: u32, k: u32) -> f32 {
  let base = (j * params.N + k) * params.C;
  var m = zk[base];
  for (var c = 1u; c < params.C; c++) { m = max(m, zk[base + c]); }
  var s = 0.0;
  for (var c = 0u; c < params.C; c++) { s += exp((zk[base + c] - m) * params.inv_t); }
  return m + log(s) / params.inv_t;
}
