
@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let k = linear_workgroup(wid, nwg) * WG_X + lid;
  if (k >= params.N) { return; }
  let inv_k = 1.0 / f32(params.K);
  if (MEAN == 1u) {
    for (var c = 0u; c < params.C; c++) {
      var s = 0.0;
      for (var j = 0u; j < params.K; j++) { s += zk[(j * params.N + k) * params.C + c]; }
      z[k * params.C + c] = s * inv_k;
    }
    return;
  }
  let s0 = lse_t(0u, k);
  for (var c = 0u; c < params.C; c++) {
    let z0 = zk[k * params.C + c];
    var m = 0.0; // a_0 = 0
    for (var j = 1u; j < params.K; j++) {
      m = max(m, ((zk[(j * params.N + k) * params.C + c] - z0) - (lse_t(j, k) - s0)) * params.inv_t);
    }
    var e = 0.0;
    for (var j = 0u; j < params.K; j++) {
      var a = 0.0;
      if (j > 0u) { a = ((zk[(j * params.N + k) * params.C + c] - z0) - (lse_t(j, k) - s0)) * params.inv_t; }
      e += exp(a - m);
    }
    z[k * params.C + c] = z0 + (m + log(e * inv_k)) / params.inv_t;
  }
}
