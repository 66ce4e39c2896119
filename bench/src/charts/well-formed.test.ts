import { describe, expect, it } from 'vitest';
import { xmlProblem } from './well-formed.js';

describe('xmlProblem', () => {
  it('accepts a well-formed document', () => {
    expect(
      xmlProblem('<svg a="1"><g><text x="2">a &amp; b &#8594;</text><rect y="3"/></g></svg>\n'),
    ).toBeUndefined();
  });

  it.each([
    ['<svg><g></svg>', '</svg> closes <g>'],
    ['<svg><text>a < b</text></svg>', 'bad tag name'],
    ['<svg><text>a & b</text></svg>', 'bad character in text'],
    ['<svg a=1></svg>', 'bad attribute'],
    ['<svg a="x" a="y"></svg>', 'attribute a twice'],
    ['<svg><rect x="NaN"/></svg>', 'contains NaN'],
    ['<svg><text>undefined</text></svg>', 'contains undefined'],
    ['<svg></svg><svg></svg>', '2 root elements'],
    ['<svg><g>', '<g> not closed'],
  ])('finds the problem in %s', (document, problem) => {
    expect(xmlProblem(document)).toContain(problem);
  });
});
