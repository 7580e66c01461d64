// The page's two DOM helpers: an element by id (a missing one is named), and an element built with its attributes and children.

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
};

export function el(tag: string, attrs: Record<string, string> = {}, ...children: Array<string | Node>): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}
