// Per-row helpers of the distillation kernels (method.md §1–2). A row is one sample's C logits;
// each invocation owns one row, so these loop over classes with no barriers. Passes over a row
// are what costs (every load and exp is per lane on CPU devices), so each helper makes one.

// Max of a teacher row's logits z (with its first argmax) and Σ exp((z − max)/T), in one pass
// (online). Everything is shifted before it is scaled, so any finite logits are safe: exp never
// overflows and (z − max)/T loses nothing to a large |z|.
struct RowStats { m: f32, s: f32, arg: u32 }

fn teacher_stats(row: u32, inv_t: f32) -> RowStats {
  var m = zt[row * params.C];
  var s = 1.0;
  var arg = 0u;
  for (var c = 1u; c < params.C; c++) {
    let v = zt[row * params.C + c];
    if (v > m) { s = s * exp((m - v) * inv_t) + 1.0; m = v; arg = c; } else { s += exp((v - m) * inv_t); }
  }
  return RowStats(m, s, arg);
}

// The same over the non-target classes c ≠ y only (DKD's non-target distribution, in log domain:
// it stays exact when the target's margin makes Σ_{c≠y} pt[c] underflow). C ≥ 2.
fn teacher_stats_nt(row: u32, y: u32, inv_t: f32) -> RowStats {
  var m = -3.0e38;
  var s = 0.0;
  var arg = 0u;
  for (var c = 0u; c < params.C; c++) {
    if (c == y) { continue; }
    let v = zt[row * params.C + c];
    if (v > m) { s = s * exp((m - v) * inv_t) + 1.0; m = v; arg = c; } else { s += exp((v - m) * inv_t); }
  }
  return RowStats(m, s, arg);
}

fn teacher_prob(row: u32, c: u32, inv_t: f32, st: RowStats) -> f32 {
  return exp((zt[row * params.C + c] - st.m) * inv_t) / st.s;
}

fn teacher_log_prob(row: u32, c: u32, inv_t: f32, st: RowStats) -> f32 {
  return (zt[row * params.C + c] - st.m) * inv_t - log(st.s);
}

// Label revision: β = η / (pt_max − pt_tar + 1), with pt at the temperature of `st_beta` (the KD
// temperature by default; T = 1 with beta_at_t1). pt_max = 1/s, as the max term is exp(0).
// LR_SCOPE 1 ("wrong") leaves a sample the teacher gets right unrevised (β = 1). Without LR
// (REVISE false) β = 1: p is the teacher's own soft label.
fn revision_beta(row: u32, y: u32, wrong: bool, st_beta: RowStats, inv_t_beta: f32) -> f32 {
  if (!REVISE || (LR_SCOPE == 1u && !wrong)) { return 1.0; }
  let ptar = teacher_prob(row, y, inv_t_beta, st_beta);
  return params.eta / (1.0 / st_beta.s - ptar + 1.0);
}

// Stats at the KD temperature, β, and whether the teacher is wrong, for teacher row `row`.
struct Target { st: RowStats, beta: f32, wrong: bool }

fn teacher_target(row: u32, y: u32) -> Target {
  let st = teacher_stats(row, params.inv_t);
  var st_beta = st;
  if (params.inv_t_beta != params.inv_t) { st_beta = teacher_stats(row, params.inv_t_beta); }
  let wrong = st.arg != y;
  return Target(st, revision_beta(row, y, wrong, st_beta, params.inv_t_beta), wrong);
}

// Revised target p[c] = β·pt[c] + (1 − β)·[c == y].
fn revised(pt: f32, c: u32, y: u32, beta: f32) -> f32 {
  return beta * pt + select(0.0, 1.0 - beta, c == y);
}
