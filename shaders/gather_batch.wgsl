// out[i, c, y, x]: example i of a batch, gathered from a dataset's stored values and made the
// model's input (normalised, augmented) in one pass. Example i's plan (4 words): its row in
// `data` (or i itself when params.indexed is 0: data then holds just the batch), shiftY and shiftX
// (i32 bits) and flip. As augmentInto (src/data/augment.ts):
//
//   out(i, c, y, x) = input(row, c, y + shiftY, xs),  xs = (flip ? W-1-x : x) + shiftX
//
// and the channel's pad value where (y + shiftY, xs) falls outside the image. `data` holds bytes
// (BYTES: 4 per u32, little-endian, example after example with no padding between them) or float32
// bits. `table` (src/data/dataset.ts inputTable, then the pad values): BYTES, channels x 256
// normalised values looked up by byte; else mean[channels], 1/std[channels], computing
// (x - mean) * (1/std) in f32.

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let idx = linear_workgroup(wid, nwg) * WG_X + lid;
  if (idx >= params.count * params.example) { return; }
  let i = idx / params.example;
  let r = idx - i * params.example;
  let plane = params.height * params.width;
  let c = r / plane;
  let q = r - c * plane;
  let y = q / params.width;
  let x = q - y * params.width;
  let row = select(i, plan[4u * i], params.indexed != 0u);
  let sy = i32(y) + bitcast<i32>(plan[4u * i + 1u]);
  var sx = i32(x);
  if (plan[4u * i + 3u] != 0u) { sx = i32(params.width) - 1 - sx; }
  sx = sx + bitcast<i32>(plan[4u * i + 2u]);
  if (sy < 0 || sy >= i32(params.height) || sx < 0 || sx >= i32(params.width)) {
    out[idx] = table[select(2u, 256u, BYTES) * params.channels + c];
    return;
  }
  let at = row * params.example + c * plane + u32(sy) * params.width + u32(sx);
  if (BYTES) {
    let b = (data[at >> 2u] >> ((at & 3u) * 8u)) & 255u;
    out[idx] = table[c * 256u + b];
  } else {
    out[idx] = (bitcast<f32>(data[at]) - table[c]) * table[params.channels + c];
  }
}
