// Batch-norm training statistics, one workgroup per channel c of x [N, C, HW]:
//   mean[c] = Σ x / M,  var = Σ (x − mean)² / M (two passes, for accuracy),  invstd[c] = 1/√(var + eps)
//   running_mean ← (1 − momentum)·running_mean + momentum·mean
//   running_var  ← (1 − momentum)·running_var + momentum·var·M/(M − 1)   (unbiased, as PyTorch)

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let m = params.N * params.HW;
  var s = 0.0;
  for (var i = lid; i < m; i += WG_X) {
    let n = i / params.HW;
    s += x[(n * params.C + c) * params.HW + i % params.HW];
  }
  let mu = wg_sum(s, lid) / f32(m);
  var q = 0.0;
  for (var i = lid; i < m; i += WG_X) {
    let n = i / params.HW;
    let d = x[(n * params.C + c) * params.HW + i % params.HW] - mu;
    q += d * d;
  }
  let v = wg_sum(q, lid) / f32(m);
  if (lid == 0u) {
    mean[c] = mu;
    invstd[c] = inverseSqrt(v + params.eps);
    let unbiased = select(v, v * f32(m) / f32(m - 1u), m > 1u);
    running_mean[c] = (1.0 - params.momentum) * running_mean[c] + params.momentum * mu;
    running_var[c] = (1.0 - params.momentum) * running_var[c] + params.momentum * unbiased;
  }
}
