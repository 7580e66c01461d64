
@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG_X + lid;
  if (i >= params.rows) { return; }
  let k = idx[i];
  let y = min(labels[k], params.C - 1u);
  var mean = 0.0;
  var sq = 0.0;
  for (var j = 0u; j < params.K; j++) {
    let p = exp((zk[(j * params.N + k) * params.C + y] - lse_t(j, k)) * params.inv_t);
    mean += p;
    sq += p * p;
  }
  let inv_k = 1.0 / f32(params.K);
  mean *= inv_k;
  score[i] = max(0.0, sq * inv_k - mean * mean);
}
