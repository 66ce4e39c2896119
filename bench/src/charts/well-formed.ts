/**
 * A small well-formedness check for the SVG the charts write (no XML parser among the bench's
 * dependencies): tags balanced and properly nested, attribute values quoted, no stray `<` or `&`
 * in text, no `NaN`, `Infinity` or `undefined` anywhere. The chart files are checked with it
 * before they are written, so a renderer slip cannot reach a committed chart.
 */

const NAME = /^[A-Za-z_][\w.:-]*$/;
const ATTRIBUTE = /\s*([A-Za-z_][\w.:-]*)="([^"<]*)"/y;
const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/g;

function badText(content: string): boolean {
  return content.includes('<') || content.replace(ENTITY, '').includes('&');
}

/** The first problem found in `document`, or undefined when it is well-formed. */
export function xmlProblem(document: string): string | undefined {
  for (const word of ['NaN', 'Infinity', 'undefined']) {
    if (document.includes(word)) return `contains ${word}`;
  }
  const stack: string[] = [];
  let at = 0;
  let roots = 0;
  while (at < document.length) {
    const open = document.indexOf('<', at);
    const textPart = document.slice(at, open < 0 ? document.length : open);
    if (badText(textPart)) return `bad character in text near ${JSON.stringify(textPart.slice(0, 40))}`;
    if (open < 0) break;
    const close = document.indexOf('>', open);
    if (close < 0) return 'unterminated tag';
    const tag = document.slice(open + 1, close);
    at = close + 1;
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const expected = stack.pop();
      if (name !== expected) return `</${name}> closes <${expected ?? 'nothing'}>`;
      continue;
    }
    const selfClosing = tag.endsWith('/');
    const body = selfClosing ? tag.slice(0, -1) : tag;
    const name = /^[^\s/]+/.exec(body)?.[0] ?? '';
    if (!NAME.test(name)) return `bad tag name ${JSON.stringify(name)}`;
    let rest = body.slice(name.length);
    const seen = new Set<string>();
    while (rest.trim() !== '') {
      ATTRIBUTE.lastIndex = 0;
      const match = ATTRIBUTE.exec(rest);
      if (match === null) return `bad attribute in <${name}${rest.slice(0, 40)}`;
      if (seen.has(match[1]!)) return `attribute ${match[1]} twice in <${name}>`;
      seen.add(match[1]!);
      if (badText(match[2]!)) return `bad character in attribute ${match[1]} of <${name}>`;
      rest = rest.slice(match[0].length);
    }
    if (stack.length === 0) roots++;
    if (!selfClosing) stack.push(name);
  }
  if (stack.length > 0) return `<${stack[stack.length - 1]}> not closed`;
  if (roots !== 1) return `${roots} root elements`;
  return undefined;
}
