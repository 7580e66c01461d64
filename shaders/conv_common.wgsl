// Conv2d geometry shared by the three implicit-GEMM conv kernels (NCHW tensors, OIHW weights).
// No im2col buffer: each operand element is computed from indices as the GEMM loop needs it.
// Out-of-image taps read a clamped (valid) address and are zeroed with select(), so the inner
// loops load unconditionally instead of branching per element.

fn in_image(h: i32, w: i32) -> bool {
  return h >= 0 && h < i32(params.H) && w >= 0 && w < i32(params.W);
}

fn clamped_pixel(h: i32, w: i32) -> u32 {
  return u32(clamp(h, 0, i32(params.H) - 1)) * params.W + u32(clamp(w, 0, i32(params.W) - 1));
}
