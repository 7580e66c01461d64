// Text bound for a terminal: a file name can hold escape sequences (ESC [ 2 J clears the screen,
// OSC 8 makes links, others retitle the window or worse) and bidirectional overrides that make a
// message read as something else. The CLI prints its errors through printable().

/** `text` with control characters (other than newline and tab) and bidirectional overrides written as \xHH / \u{HHHH}. */
export function printable(text: string): string {
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}
