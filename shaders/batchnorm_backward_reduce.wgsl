// Batch-norm backward, first half, one workgroup per channel:
//   sums[c] = Σ dy,  sums[C + c] = Σ dy·x̂   with x̂ = (x − mean)·invstd
//   dbeta[c] (+)= Σ dy,  dgamma[c] (+)= Σ dy·x̂

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = wid.x;
  let m = params.N * params.HW;
  let mu = mean[c];
  let inv = invstd[c];
  var sd = 0.0;
  var sdx = 0.0;
  for (var i = lid; i < m; i += WG_X) {
    let n = i / params.HW;
    let at = (n * params.C + c) * params.HW + i % params.HW;
    let g = dy[at];
    sd += g;
    sdx += g * (x[at] - mu) * inv;
  }
  let total_d = wg_sum(sd, lid);
  let total_dx = wg_sum(sdx, lid);
  if (lid == 0u) {
    sums[c] = total_d;
    sums[params.C + c] = total_dx;
    var db = total_d;
    var dg = total_dx;
    if (ACCUM) { db += dbeta[c]; dg += dgamma[c]; }
    dbeta[c] = db;
    dgamma[c] = dg;
  }
}
