// The data-selection mask from influence scores (method.md §3), over `n` rows that address the
// dataset through idx: mask[idx[i]] = 1 if sample i is selected, else 0.
// Workgroup g selects within group g: the rows whose ground-truth class labels[idx[i]] is g
// (BALANCE, one workgroup per class), or every row (one workgroup). In its group:
// RULE 0 ("ratio"): keep the round(ratio · rows) rows with the lowest scores (ties broken by row
//   order), found by a radix select over the scores' order-preserving u32 keys: four 8-bit
//   histogram passes. Integer atomics on a histogram give the same counts in any order:
//   deterministic.
// RULE 1 ("sign"): keep every row with score < 0.
// RULE 2 ("count"): keep the counts[2g + 1] rows with the lowest scores (a control that keeps
//   exactly as many rows per group as another selection did).
// Every rule writes counts[2g] = rows in the group and counts[2g + 1] = rows kept.

var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> chunk_eq: array<u32, WG_X>;
var<workgroup> found: vec2<u32>;   // (key prefix so far, rank still to place within it)
var<workgroup> tally: array<atomic<u32>, 2>;   // rows in the group, negative scores among them
var<workgroup> plan: vec2<u32>;    // (rows in the group, rows to keep)

// Order-preserving map of f32 to u32: negative floats reversed, positive ones above them.
fn sort_key(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn in_group(i: u32, g: u32) -> bool {
  return !BALANCE || min(labels[idx[i]], params.groups - 1u) == g;
}

@compute @workgroup_size(WG_X)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let g = wid.x;
  let n = params.n;
  let chunk = (n + WG_X - 1u) / WG_X;
  let begin = min(lid * chunk, n);
  let end = min(begin + chunk, n);
  if (lid == 0u) { atomicStore(&tally[0], 0u); atomicStore(&tally[1], 0u); }
  workgroupBarrier();
  var rows = 0u;
  var negative = 0u;
  for (var i = begin; i < end; i++) {
    if (in_group(i, g)) {
      rows++;
      if (score[i] < 0.0) { negative++; }
    }
  }
  atomicAdd(&tally[0], rows);
  atomicAdd(&tally[1], negative);
  workgroupBarrier();
  if (lid == 0u) {
    let total = atomicLoad(&tally[0]);
    var keep = atomicLoad(&tally[1]);
    if (RULE == 0u) { keep = u32(floor(params.ratio * f32(total) + 0.5)); }
    if (RULE == 2u) { keep = counts[2u * g + 1u]; }
    keep = min(keep, total);
    plan = vec2<u32>(total, keep);
    found = vec2<u32>(0u, keep);
    counts[2u * g] = total;
    counts[2u * g + 1u] = keep;
  }
  let p = workgroupUniformLoad(&plan);
  if (RULE == 1u || p.y >= p.x) {
    for (var i = begin; i < end; i++) {
      if (in_group(i, g)) { mask[idx[i]] = select(0.0, 1.0, RULE != 1u || score[i] < 0.0); }
    }
    return;
  }
  for (var round = 0u; round < 4u; round++) {
    let shift = 24u - 8u * round;
    atomicStore(&hist[lid], 0u);   // WG_X == 256: one bin each
    workgroupBarrier();
    let prefix = workgroupUniformLoad(&found).x;
    for (var i = begin; i < end; i++) {
      if (!in_group(i, g)) { continue; }
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
  for (var i = begin; i < end; i++) { if (in_group(i, g) && sort_key(score[i]) == sel.x) { eq++; } }
  chunk_eq[lid] = eq;
  workgroupBarrier();
  if (lid == 0u) {
    var run = 0u;
    for (var t = 0u; t < WG_X; t++) { let c = chunk_eq[t]; chunk_eq[t] = run; run += c; }
  }
  workgroupBarrier();
  var rank_eq = chunk_eq[lid];
  for (var i = begin; i < end; i++) {
    if (!in_group(i, g)) { continue; }
    let key = sort_key(score[i]);
    var keep = key < sel.x;
    if (key == sel.x) { keep = rank_eq < sel.y; rank_eq++; }
    mask[idx[i]] = select(0.0, 1.0, keep);
  }
}
