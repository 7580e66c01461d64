// One fused update over the flat parameter buffer (all of a model's parameters back to back).
// MODE 0, SGD (PyTorch's rule, dampening 0):
//   g = grad + wd·p;  buf = μ·buf + g;  step = NESTEROV ? g + μ·buf : buf;  p −= lr·step
// MODE 1, Adam (DECOUPLED = AdamW):
//   g = grad (+ wd·p unless decoupled);  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//   p −= lr·( (m/bc1) / (√(v/bc2) + eps) + (decoupled ? wd·p : 0) ),  bc = 1 − βᵗ from the host
// Each invocation updates 4 consecutive elements. Nothing is updated once the numeric guard has
// recorded a fault (health[0] != 0), so the parameters stay those of the last good step.

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let base = (linear_workgroup(wid, nwg) * WG_X + lid) * 4u;
  if (health[0] != 0u) { return; }
  for (var e = 0u; e < 4u; e++) {
    let i = base + e;
    if (i >= params.n) { return; }
    let p = param[i];
    var g = grad[i] * params.grad_scale;
    if (MODE == 0u) {
      g += params.weight_decay * p;
      let b = params.beta1 * m[i] + g;
      m[i] = b;
      var step = b;
      if (NESTEROV) { step = g + params.beta1 * b; }
      param[i] = p - params.lr * step;
    } else {
      if (!DECOUPLED) { g += params.weight_decay * p; }
      let mi = params.beta1 * m[i] + (1.0 - params.beta1) * g;
      let vi = params.beta2 * v[i] + (1.0 - params.beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      var step = (mi / params.bc1) / (sqrt(vi / params.bc2) + params.eps);
      if (DECOUPLED) { step += params.weight_decay * p; }
      param[i] = p - params.lr * step;
    }
  }
}
