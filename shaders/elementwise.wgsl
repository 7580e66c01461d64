// Elementwise ops over flat f32 arrays. OP selects the operation at compile time:
//   0 add: out = a + b          1 mul: out = a * b          2 scale: out = alpha * a
//   3 relu: out = max(a, 0)     4 relu_backward: out = b * (a > 0), a = forward input, b = upstream grad
//   5 axpy: out = a + alpha * b     6 accumulate: out += alpha * a     7 fill: out = alpha
//   8 div: out = a / (b + alpha)
// Each invocation handles 4 consecutive elements: fewer invocations, the same loads.

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let base = (linear_workgroup(wid, nwg) * WG_X + lid) * 4u;
  for (var k = 0u; k < 4u; k++) {
    let i = base + k;
    if (i >= params.n) { return; }
    if (OP == 7u) { out[i] = params.alpha; continue; }
    let x = a[i];
    var r: f32;
    switch OP {
      case 0u: { r = x + b[i]; }
      case 1u: { r = x * b[i]; }
      case 2u: { r = params.alpha * x; }
      case 3u: { r = max(x, 0.0); }
      case 4u: { r = select(0.0, b[i], x > 0.0); }
      case 5u: { r = x + params.alpha * b[i]; }
      case 8u: { r = x / (b[i] + params.alpha); }
      default: { r = out[i] + params.alpha * x; }
    }
    out[i] = r;
  }
}
