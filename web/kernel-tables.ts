// The Verify and Bench tabs' tables: a row per check and a line per kernel (checks, failures,
// worst relative error, the first failure), and a row per benchmark.

import type { BenchRow, VerifyRow } from '../src/index.browser.js';
import { $, el } from './dom.js';

/** The counts the Verify tab keeps while rows arrive (part of the page's state). */
export interface VerifyProgress {
  rows: number;
  passed: number;
  failed: number;
  last: string;
  failures: string[];
}

export const verifyByKernel = new Map<string, { row: HTMLElement; cells: HTMLElement[]; checks: number; failed: number; maxRel: number; first: string }>();

export function addVerifyRow(verify: VerifyProgress, r: VerifyRow): void {
  verify.rows++;
  verify.last = `${r.kernel} ${r.shape} ${r.output}`;
  if (r.pass) verify.passed++;
  else {
    verify.failed++;
    verify.failures.push(`${r.kernel} ${r.shape} ${r.output}: ${r.detail ?? ''}`);
  }
  $('verify-summary').textContent = `${verify.passed} passed, ${verify.failed} failed so far…`;
  // One line per kernel: checks, failures, worst relative error, the first failure.
  let k = verifyByKernel.get(r.kernel);
  if (!k) {
    const cells = [el('td', {}, r.kernel), el('td'), el('td'), el('td'), el('td', { class: 'detail' })];
    const row = el('tr', {}, ...cells);
    $('verify-kernels').querySelector('tbody')!.append(row);
    verifyByKernel.set(r.kernel, (k = { row, cells, checks: 0, failed: 0, maxRel: 0, first: '' }));
  }
  k.checks++;
  if (Number.isFinite(r.maxRelError)) k.maxRel = Math.max(k.maxRel, r.maxRelError);
  if (!r.pass) {
    k.failed++;
    k.first ||= `${r.shape} ${r.output}: ${r.detail ?? ''}`;
  }
  k.cells[1].textContent = String(k.checks);
  k.cells[2].textContent = k.failed ? String(k.failed) : 'ok';
  k.cells[3].textContent = k.maxRel.toExponential(2);
  k.cells[4].textContent = k.first;
  k.row.className = k.failed ? 'fail' : '';
  $('verify-table')
    .querySelector('tbody')!
    .append(
      el(
        'tr',
        { class: r.pass ? '' : 'fail' },
        el('td', {}, r.kernel),
        el('td', {}, r.shape),
        el('td', {}, r.output),
        el('td', {}, r.maxAbsError.toExponential(2)),
        el('td', {}, r.maxRelError.toExponential(2)),
        el('td', {}, r.tolerance),
        el('td', {}, r.pass ? 'ok' : `FAIL (${r.detail ?? ''})`),
      ),
    );
}

export function addBenchRow(r: BenchRow): void {
  $('bench-table')
    .querySelector('tbody')!
    .append(el('tr', {}, el('td', {}, r.name), el('td', {}, r.shape), el('td', {}, r.ms.toFixed(3)), el('td', {}, `${r.rate.toFixed(2)} ${r.unit}`), el('td', {}, `${(100 * r.fractionOfCeiling).toFixed(1)}%`)));
}
