// dst[idx[r], :] = src[r, :] for rows r < rows of `cols` floats: places a batch of per-sample rows
// (e.g. teacher logits) at their samples' positions in a dataset-sized buffer.

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WG_X + lid;
  if (i >= params.rows * params.cols) { return; }
  let r = i / params.cols;
  dst[idx[r] * params.cols + i % params.cols] = src[i];
}
