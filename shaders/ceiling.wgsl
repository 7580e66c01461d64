// Device ceilings for the kernel benchmarks.
// MODE 0 (arithmetic-bound): each invocation runs 8 independent vec4 multiply-add chains for
//   `iters` steps in registers and writes one vec4: 64·iters flops per invocation, nothing loaded.
//   (Plain a*m+c rather than fma(): some CPU emulators lower fma() to a slow exact routine, and
//   GPU compilers fuse a*m+c anyway. vec4 chains measured fastest on SwiftShader.) The loop body
//   is written out 4 times: SwiftShader does not unroll loops, and with one step per iteration
//   the loop's own cost (counter, branch, lane masks) held the measured ceiling to ~6 GFLOP/s on
//   2 cores where the unrolled body reaches ~13-14.
// MODE 1 (copy): dst[i] = src[i] as vec4, one read and one write of 16 bytes per invocation.

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG_X + lid;
  if (i >= params.n) { return; }
  if (MODE == 0u) {
    let x = vec4<f32>(f32(i & 7u) * 1e-3) + vec4<f32>(0.0, 0.01, 0.02, 0.03);
    var a0 = x; var a1 = x + 0.1; var a2 = x + 0.2; var a3 = x + 0.3;
    var a4 = x + 0.4; var a5 = x + 0.5; var a6 = x + 0.6; var a7 = x + 0.7;
    let m = vec4<f32>(0.9999);
    let c = vec4<f32>(1e-4);
    let quads = params.iters / 4u;
    for (var k = 0u; k < quads; k++) {
      a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
      a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
      a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
      a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
      a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
      a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
      a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
      a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
    }
    for (var k = 4u * quads; k < params.iters; k++) {
      a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
      a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
    }
    dst[i] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));
  } else {
    dst[i] = src[i];
  }
}
