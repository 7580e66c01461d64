// Label revision for `rows` samples (method.md §2), one invocation per sample:
//   p[i, c] = β_i·pt[i, c] + (1 − β_i)·[c == y_i],  pt = softmax(zt / T),  β_i = η / (pt_max − pt_tar + 1)
// also β_i and wrong_i = [argmax zt_i ≠ y_i] (the teacher's mistakes), for telemetry and the
// "teacher-correct only" selection baseline.

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg) * WG_X + lid;
  if (row >= params.rows) { return; }
  let y = min(labels[row], params.C - 1u);
  let t = teacher_target(row, y);
  for (var c = 0u; c < params.C; c++) {
    p[row * params.C + c] = revised(teacher_prob(row, c, params.inv_t, t.st), c, y, t.beta);
  }
  beta_out[row] = t.beta;
  wrong[row] = select(0.0, 1.0, t.wrong);
}
