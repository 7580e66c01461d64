// Sum over the middle axis of x viewed as [outer, axis, inner]; out[o, i] = scale · Σ_a x[o, a, i]
// (scale = 1 for sum, 1/axis for mean); ACCUM adds into out (gradient fan-in).
// Deterministic: fixed summation order, no atomics.
// ROWS (inner == 1, few long rows): one workgroup per row, invocations stride over the row, then
//   a tree in workgroup memory. Otherwise one invocation per output, looping over the axis.

var<workgroup> partial: array<f32, WG_X>;

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let w = linear_workgroup(wid, nwg);
  if (ROWS) {
    let row = w;   // uniform across the workgroup, so the barriers below stay in uniform control flow
    var s = 0.0;
    if (row < params.outer) {
      let base = row * params.axis;
      for (var a = lid; a < params.axis; a += WG_X) { s += x[base + a]; }
    }
    partial[lid] = s;
    workgroupBarrier();
    for (var stride = WG_X / 2u; stride > 0u; stride >>= 1u) {
      if (lid < stride) { partial[lid] += partial[lid + stride]; }
      workgroupBarrier();
    }
    if (lid == 0u && row < params.outer) {
      var v = partial[0] * params.scale;
      if (ACCUM) { v += out[row]; }
      out[row] = v;
    }
  } else {
    let idx = w * WG_X + lid;
    if (idx >= params.outer * params.inner) { return; }
    let o = idx / params.inner;
    let i = idx % params.inner;
    var s = 0.0;
    var p = o * params.axis * params.inner + i;
    for (var a = 0u; a < params.axis; a++) { s += x[p]; p += params.inner; }
    var v = s * params.scale;
    if (ACCUM) { v += out[idx]; }
    out[idx] = v;
  }
}
