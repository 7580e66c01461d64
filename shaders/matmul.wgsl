// C[M, N] = act(A'·B' + bias) (+ C when ACCUM), A' = A or Aᵀ, B' = B or Bᵀ.
//   A is [M, K] row-major, or [K, M] when TRANS_A.  B is [K, N], or [N, K] when TRANS_B.
// Register-blocked: each invocation owns a TM×TN block of C in registers and streams K,
// loading TM + TN values per k for TM·TN multiply-adds. No workgroup memory: on CPU-emulated
// devices (SwiftShader) it costs more than it saves, and on GPUs the L1 catches the reuse.

fn load_a(m: u32, k: u32) -> f32 {
  if (m >= params.M || k >= params.K) { return 0.0; }
  if (TRANS_A) { return a[k * params.M + m]; }
  return a[m * params.K + k];
}

fn load_b(k: u32, n: u32) -> f32 {
  if (k >= params.K || n >= params.N) { return 0.0; }
  if (TRANS_B) { return b[n * params.K + k]; }
  return b[k * params.N + n];
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * TM;
  let n0 = gid.x * TN;
  if (m0 >= params.M || n0 >= params.N) { return; }
  var acc: array<array<f32, TN>, TM>;
  for (var k = 0u; k < params.K; k++) {
    var av: array<f32, TM>;
    var bv: array<f32, TN>;
    for (var i = 0u; i < TM; i++) { av[i] = load_a(m0 + i, k); }
    for (var j = 0u; j < TN; j++) { bv[j] = load_b(k, n0 + j); }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < TN; j++) { acc[i][j] = fma(av[i], bv[j], acc[i][j]); }
    }
  }
  for (var i = 0u; i < TM; i++) {
    let m = m0 + i;
    if (m >= params.M) { break; }
    for (var j = 0u; j < TN; j++) {
      let n = n0 + j;
      if (n >= params.N) { break; }
      var v = acc[i][j];
      if (HAS_BIAS) { v += bias[n]; }
      if (ACCUM) { v += c[m * params.N + n]; }
      if (ACT == 1u) { v = max(v, 0.0); }
      c[m * params.N + n] = v;
    }
  }
}
