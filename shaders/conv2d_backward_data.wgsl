// dx[n, ci, h, w] (+)= Σ_{co, kh, kw} dy[n, co, oh, ow] · w[co, ci, kh, kw]
//   over the (oh, ow) with oh·s − p + kh = h and ow·s − p + kw = w (s divides, and in range).
// As a GEMM (gemm_core.wgsl): rows m = (n, h, w), columns ci, reduction k = (co, kh, kw);
//   A'(m, k) = dy[n, co, oh, ow]   (zero where no such (oh, ow) exists)
//   B'(k, ci) = w[co, ci, kh, kw]  = wt[co·CI·KH·KW + ci·KH·KW + kh·KW + kw]
// With h + p = hq·s + hr and kh = khq·s + khr: a tap exists when hr = khr (PHASED only; with
// s = 1 both are 0), and then oh = hq − khq, in range when hq − khq < OH (u32). So A' splits as
// dy[row.off + kq.ofs]: row.off = n·CO·OH·OW + hq·OW + wq, kq.ofs = co·OH·OW − khq·OW − kwq.

const BOUNDED: bool = true;   // taps may fall outside the image (gemm_core.wgsl)

fn gather_a(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(dy[o.x], dy[o.y], dy[o.z], dy[o.w]); }
fn fetch_a(i: u32) -> f32 { return dy[i]; }
fn gather_b(o: vec4<u32>) -> vec4<f32> { return vec4<f32>(wt[o.x], wt[o.y], wt[o.z], wt[o.w]); }

fn row_radix() -> vec2<u32> { return vec2<u32>(params.H, params.W); }

// Row (n, h, w).
fn row_a(p: vec3<u32>) -> RowA {
  let hp = p.y + params.pad;
  let wp = p.z + params.pad;
  var hq = hp;
  var wq = wp;
  var hr = 0u;
  var wr = 0u;
  if (PHASED) {
    hq = hp / params.stride;
    wq = wp / params.stride;
    hr = hp - hq * params.stride;
    wr = wp - wq * params.stride;
  }
  let out = p.x * params.CI * params.H * params.W + p.y * params.W + p.z;
  return RowA(p.x * params.CO * params.OH * params.OW + hq * params.OW + wq, hq, wq, hr, wr, out);
}

// k = (co, kh, kw).
fn k_a(k: vec4<u32>) -> KA {
  let kk = params.KH * params.KW;
  let co = k / kk;
  let t = k - co * kk;
  let kh = t / params.KW;
  let kw = t - kh * params.KW;
  var khq = kh;
  var kwq = kw;
  var khr = vec4<u32>(0u);
  var kwr = vec4<u32>(0u);
  if (PHASED) {
    khq = kh / params.stride;
    kwq = kw / params.stride;
    khr = kh - khq * params.stride;
    kwr = kw - kwq * params.stride;
  }
  let z = vec4<u32>(0u);
  return KA(co * (params.OH * params.OW) - khq * params.OW - kwq, z - khq, z - kwq, khr, kwr, params.OH, params.OW);
}

// B'(k, ci) = wt[kb(k) + ci·KH·KW].
fn k_b(k: vec4<u32>) -> vec4<u32> {
  let kk = params.KH * params.KW;
  let co = k / kk;
  return co * (params.CI * kk) + (k - co * kk);
}

// With ACCUM a store reads what it overwrites, so the rows and columns past the edge (clamped
// duplicates, see gemm_core.wgsl) must be skipped rather than stored twice.
fn store1(i: u32, ci: u32, v: f32) {
  if (ACCUM) {
    if (ci < params.CI) { dx[i] = v + dx[i]; }
  } else {
    dx[i] = v;
  }
}

fn store_row(out: u32, row_ok: bool, c0: u32, oc: Offsets, r: Row) { store_row_once(ACCUM, out, row_ok, c0, oc, r); }

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let origin = invocation_origin(wid, nwg, lid, params.CI);
  let m0 = origin.x;
  let c0 = origin.y;
  let last = params.N * params.H * params.W - 1u;
  if (m0 > last) { return; }

  var ra = rows_a(m0, last);
  var acc: Acc;
  accumulate_k(&acc, &ra, offsets16(c0, params.CI - 1u, params.KH * params.KW), params.CO * params.KH * params.KW);
  store_rows(&acc, &ra, m0, last, c0, offsets16(c0, params.CI - 1u, params.H * params.W));
}
