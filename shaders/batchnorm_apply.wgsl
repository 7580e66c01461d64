// y = act((x − mean[c]) · invstd[c] · gamma[c] + beta[c]) over x [N, C, HW], one invocation per element.
// EVAL: `stat` holds the running variance and invstd = 1/√(var + eps) (inference); otherwise it
// holds the batch's invstd from batchnorm_stats.

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG_X + lid;
  if (i >= params.N * params.C * params.HW) { return; }
  let c = (i / params.HW) % params.C;
  var inv = stat[c];
  if (EVAL) { inv = inverseSqrt(stat[c] + params.eps); }
  var v = (x[i] - mean[c]) * inv * gamma[c] + beta[c];
  if (ACT == 1u) { v = max(v, 0.0); }
  y[i] = v;
}
