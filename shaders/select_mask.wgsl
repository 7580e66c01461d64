// The data-selection mask from influence scores (method.md §3), over `n` rows that address the
// dataset through idx: mask[idx[i]] = 1 if sample i is selected, else 0.
// RULE 0: the `keep` rows with the lowest scores (ties broken by row order), found by a radix
//   select over the scores' order-preserving u32 keys: four 8-bit histogram passes in one
//   workgroup. Integer atomics on a histogram give the same counts in any order: deterministic.
// RULE 1 ("sign"): every row with score < 0.

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> chunk_eq: array<u32, WG_X>;
var<workgroup> found: vec2<u32>;   // (key prefix so far, rank still to place within it)

// Order-preserving map of f32 to u32: negative floats reversed, positive ones above them.
fn sort_key(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

@compute @workgroup_size(WG_X)
fn main(@builtin(local_invocation_index) lid: u32) {
  let n = params.n;
  let chunk = (n + WG_X - 1u) / WG_X;
  let begin = min(lid * chunk, n);
  let end = min(begin + chunk, n);
  if (RULE == 1u || params.keep >= n) {
    for (var i = begin; i < end; i++) { mask[idx[i]] = select(0.0, 1.0, RULE == 0u || score[i] < 0.0); }
    return;
  }
  if (lid == 0u) { found = vec2<u32>(0u, params.keep); }
  for (var round = 0u; round < 4u; round++) {
    let shift = 24u - 8u * round;
    atomicStore(&hist[lid], 0u);   // WG_X == 256: one bin each
    workgroupBarrier();
    let prefix = workgroupUniformLoad(&found).x;
    for (var i = begin; i < end; i++) {
      let key = sort_key(score[i]);
      // Keys whose higher bits match the prefix found so far (all keys in the first pass).
      if (round == 0u || (key >> (shift + 8u)) == (prefix >> (shift + 8u))) { atomicAdd(&hist[(key >> shift) & 255u], 1u); }
    }
    workgroupBarrier();
    if (lid == 0u) {
      var need = found.y;
      var bin = 0u;
      for (; bin < 255u; bin++) {
        let count = atomicLoad(&hist[bin]);
        if (need < count) { break; }
        need -= count;
      }
      found = vec2<u32>(found.x | (bin << shift), need);
    }
    workgroupBarrier();
  }
  // found.x is the key of the row of rank `keep` (0-based: the first row not kept); found.y how
  // many rows with that key come before it in row order, and are kept.
  let sel = workgroupUniformLoad(&found);
  var eq = 0u;
  for (var i = begin; i < end; i++) { if (sort_key(score[i]) == sel.x) { eq++; } }
  chunk_eq[lid] = eq;
  workgroupBarrier();
  if (lid == 0u) {
    var run = 0u;
    for (var t = 0u; t < WG_X; t++) { let c = chunk_eq[t]; chunk_eq[t] = run; run += c; }
  }
  workgroupBarrier();
  var rank_eq = chunk_eq[lid];
  for (var i = begin; i < end; i++) {
    let key = sort_key(score[i]);
    var keep = key < sel.x;
    if (key == sel.x) { keep = rank_eq < sel.y; rank_eq++; }
    mask[idx[i]] = select(0.0, 1.0, keep);
  }
}
