// Per-row helpers of the distillation kernels (method.md §1–2). A row is one sample's C logits;
// each invocation owns one row, so these loop over classes with no barriers.

struct RowStats { m: f32, s: f32 }   // max of z/T, Σ exp(z/T − max)

fn teacher_stats(row: u32, inv_t: f32) -> RowStats {
  var m = -3.0e38;
  for (var c = 0u; c < params.C; c++) { m = max(m, zt[row * params.C + c] * inv_t); }
  var s = 0.0;
  for (var c = 0u; c < params.C; c++) { s += exp(zt[row * params.C + c] * inv_t - m); }
  return RowStats(m, s);
}

fn teacher_prob(row: u32, c: u32, inv_t: f32, st: RowStats) -> f32 {
  return exp(zt[row * params.C + c] * inv_t - st.m) / st.s;
}

fn teacher_argmax(row: u32) -> u32 {
  var best = zt[row * params.C];
  var at = 0u;
  for (var c = 1u; c < params.C; c++) {
    let v = zt[row * params.C + c];
    if (v > best) { best = v; at = c; }
  }
  return at;
}

// Label revision: β = η / (pt_max − pt_tar + 1), with pt at temperature 1/inv_t_beta
// (the KD temperature by default; T = 1 with beta_at_t1). LR_SCOPE 1 ("wrong") leaves a sample
// the teacher gets right unrevised (β = 1). Without LR (REVISE false) β = 1: p is the teacher's.
fn revision_beta(row: u32, y: u32, wrong: bool) -> f32 {
  if (!REVISE || (LR_SCOPE == 1u && !wrong)) { return 1.0; }
  let st = teacher_stats(row, params.inv_t_beta);
  var pmax = 0.0;
  for (var c = 0u; c < params.C; c++) { pmax = max(pmax, teacher_prob(row, c, params.inv_t_beta, st)); }
  let ptar = teacher_prob(row, y, params.inv_t_beta, st);
  return params.eta / (pmax - ptar + 1.0);
}

// Revised target p[c] = β·pt[c] + (1 − β)·[c == y].
fn revised(pt: f32, c: u32, y: u32, beta: f32) -> f32 {
  return beta * pt + select(0.0, 1.0 - beta, c == y);
}
