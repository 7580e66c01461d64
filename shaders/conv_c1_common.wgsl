// Shared by the direct first-layer kernels (conv2d_relu_pool_c1.wgsl, its backward
// conv2d_pool_backward_weight_c1.wgsl): one input channel x [N, 1, H, W], 3×3, padding 1, and a
// 4×4 input patch per 2×2 pooling window, held as 4 columns, each a vec4 over the patch's rows.

const NO_WINNER = 0xffffffffu;

// The patch's input rows r0..r3 (conv rows 2·ph − 1 .. 2·ph + 2): their offsets into x and
// whether each exists.
struct Rows { o: vec4<u32>, ok: vec4<bool> }

fn patch_rows(n: u32, ph: u32) -> Rows {
  let h = vec4<u32>(2u * ph) + vec4<u32>(0xffffffffu, 0u, 1u, 2u);  // u32: −1 wraps, fails h < H
  return Rows(n * params.H * params.W + h * params.W, h < vec4<u32>(params.H));
}

// The patch column at input column `c` (u32: −1 wraps and fails c < W), zero outside the image.
fn column(r: Rows, c: u32) -> vec4<f32> {
  let ok = r.ok & vec4<bool>(c < params.W);
  let o = select(vec4<u32>(0u), r.o + vec4<u32>(c), ok);
  return select(vec4<f32>(0.0), vec4<f32>(x[o.x], x[o.y], x[o.z], x[o.w]), ok);
}
