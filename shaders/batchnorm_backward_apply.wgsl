// Batch-norm backward, second half, one invocation per element (M = N·HW):
//   dx = gamma·invstd · (dy − Σdy/M − x̂·Σ(dy·x̂)/M)       (ACCUM adds into dx)

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG_X + lid;
  if (i >= params.N * params.C * params.HW) { return; }
  let c = (i / params.HW) % params.C;
  let m = f32(params.N * params.HW);
  let xhat = (x[i] - mean[c]) * invstd[c];
  var v = gamma[c] * invstd[c] * (dy[i] - sums[c] / m - xhat * sums[params.C + c] / m);
  if (ACCUM) { v += dx[i]; }
  dx[i] = v;
}
