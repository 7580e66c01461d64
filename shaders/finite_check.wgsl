// Numerical-fault detection without a readback: scans x[0..n) for Inf/NaN and, if this is the
// first fault since the guard was reset, records (flag, step, tensor id, first bad index) in
// `health`. Tested by the exponent bits, since compilers may assume NaN never occurs and fold
// x != x away.

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let base = (linear_workgroup(wid, nwg) * WG_X + lid) * 4u;
  // A fault already recorded by an earlier tensor or step: keep it. (Within this tensor every invocation still runs,
  // so atomicMin finds the first bad index whatever order the workgroups run in.)
  let flagged = atomicLoad(&health[0]) != 0u;
  if (flagged & ((atomicLoad(&health[2]) != params.tensor) | (atomicLoad(&health[1]) != params.step))) { return; }
  for (var e = 0u; e < 4u; e++) {
    let i = base + e;
    if (i >= params.n) { return; }
    if ((bitcast<u32>(x[i]) & 0x7f800000u) == 0x7f800000u) {
      atomicMax(&health[0], 1u);
      atomicStore(&health[1], params.step);
      atomicStore(&health[2], params.tensor);
      atomicMin(&health[3], i);
      return;
    }
  }
}
