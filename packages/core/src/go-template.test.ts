import { describe, expect, it } from 'vitest';
import { formatGoFloat, goJsEscape, goQueryEscape, goSprintf } from './go-format.js';
import { GoTemplate, GoTemplateExecError, GoTemplateParseError } from './go-template.js';

const run = (source: string, data: unknown = {}): string => GoTemplate.parse(source).execute(data);

/** Data shaped like a request log input: fields, methods, a map with `goIndex`. */
const data = {
  Request: {
    Method: 'GET',
    Header: {
      Get: (name: string) => (name.toLowerCase() === 'x-a' ? 'one' : ''),
      goIndex: (key: unknown) => (key === 'X-A' ? ['one', 'two'] : []),
    },
    URL: { Path: '/p', RawQuery: 'q=1', String: () => '/p?q=1' },
    UserAgent: () => 'curl/8',
  },
  Response: { Code: 200, Size: 12, Latency: 0.0123 },
  Items: ['a', 'b'],
  Empty: '',
};

describe('GoTemplate', () => {
  it('prints fields, methods with and without arguments, and Stringers', () => {
    expect(run('{{.Request.Method}} {{.Request.UserAgent}} {{.Request.Header.Get "X-A"}}', data)).toBe(
      'GET curl/8 one',
    );
    expect(run('{{.Request.URL}} {{.Request.URL.Path}}?{{.Request.URL.RawQuery}}', data)).toBe(
      '/p?q=1 /p?q=1',
    );
    expect(run('{{.Response.Code}} {{.Response.Size}} {{.Response.Latency}}s', data)).toBe('200 12 0.0123s');
  });

  it('indexes maps and slices as Go does, a missing map key giving the zero value', () => {
    expect(
      run('{{index .Request.Header "X-A"}}|{{index .Request.Header "X-B"}}|{{index .Items 1}}', data),
    ).toBe('[one two]|[]|b');
  });

  it('runs pipelines, parenthesised pipelines, variables and the builtins', () => {
    expect(run('{{.Request.Method | printf "%s-%d" | printf "<%s>" }}', { Request: { Method: 'X' } })).toBe(
      '<X-%!d(MISSING)>',
    );
    expect(run('{{printf "%s %d %5.2f %q %x %v" "a" 7 3.14159 "b\\"c" 255 true}}')).toBe(
      'a 7  3.14 "b\\"c" ff true',
    );
    expect(run('{{$m := .Request.Method}}{{$m}}{{len $m}}{{len .Items}}', data)).toBe('GET32');
    expect(
      run('{{(index .Items 0) | js}} {{js "<a href=\'x\'>"}} {{html "<b>&"}} {{urlquery "a b/c"}}', data),
    ).toBe("a \\u003Ca href\\u003D\\'x\\'\\u003E &lt;b&gt;&amp; a+b%2Fc");
    expect(
      run(
        '{{and 1 0 2}} {{or 0 "" "x"}} {{not .Empty}} {{eq .Response.Code 200 404}} {{ne 1 2}} {{lt 1 2}} {{ge "b" "a"}}',
        data,
      ),
    ).toBe('0 x true true true true true');
    expect(run('{{print "a" 1 2 "b"}}|{{println "a" 1}}', data)).toBe('a1 2b|a 1\n');
  });

  it('branches with if/else if/else, with and range', () => {
    const t = '{{if eq .Response.Code 500}}err{{else if ge .Response.Code 400}}client{{else}}ok{{end}}';
    expect(run(t, data)).toBe('ok');
    expect(run(t, { Response: { Code: 404 } })).toBe('client');
    expect(run('{{with .Request.Method}}[{{.}}]{{end}}{{with .Empty}}x{{else}}none{{end}}', data)).toBe(
      '[GET]none',
    );
    expect(
      run('{{range $i, $v := .Items}}{{$i}}={{$v}};{{end}}{{range .Empty}}x{{else}}-{{end}}', {
        ...data,
        Empty: [],
      }),
    ).toBe('0=a;1=b;-');
  });

  it('trims around {{- and -}} and drops comments', () => {
    expect(run('a  {{- "b" -}}  c {{/* note */}}d', data)).toBe('abc d');
  });

  it('reads `}}` inside a quoted string as part of it', () => {
    expect(run('{{"}}"}}')).toBe('}}');
  });

  it('refuses at parse what Go refuses: syntax, unknown functions and variables, unclosed blocks', () => {
    for (const bad of [
      '{{.Request.Method',
      '{{nosuch .X}}',
      '{{$x}}',
      '{{if .X}}a',
      '{{end}}',
      '{{template "x"}}',
      '{{"a}}',
    ]) {
      expect(() => GoTemplate.parse(bad), bad).toThrow(GoTemplateParseError);
    }
  });

  it('fails at execution on a field the data does not have or does not export, as Go does', () => {
    expect(() => GoTemplate.parse('{{.Request.Nope}}').execute(data)).toThrow(GoTemplateExecError);
    expect(() => GoTemplate.parse('{{.Request.method}}').execute({ Request: { method: 'x' } })).toThrow(
      /unexported field/,
    );
    // A map takes any key.
    expect(run('{{.M.key}}', { M: new Map([['key', 'v']]) })).toBe('v');
  });

  it('refuses a constant or `.` as a later pipeline stage, as Go’s parser does', () => {
    expect(() => GoTemplate.parse('{{.A | "x"}}')).toThrow(/non executable command in pipeline stage 2/);
    expect(() => GoTemplate.parse('{{.A | .}}')).toThrow(/non executable command/);
  });

  it('parses Knative’s documented request log templates (config-observability, both eras)', () => {
    // config/core/configmaps/observability.yaml, Knative 1.18 (B3 trace ID by index) and ≥ 1.19 (.TraceID).
    const v118 =
      '{"httpRequest": {"requestMethod": "{{.Request.Method}}", "requestUrl": "{{js .Request.RequestURI}}", "requestSize": "{{.Request.ContentLength}}", "status": {{.Response.Code}}, "responseSize": "{{.Response.Size}}", "userAgent": "{{js .Request.UserAgent}}", "remoteIp": "{{js .Request.RemoteAddr}}", "serverIp": "{{.Revision.PodIP}}", "referer": "{{js .Request.Referer}}", "latency": "{{.Response.Latency}}s", "protocol": "{{.Request.Proto}}"}, "traceId": "{{index .Request.Header "X-B3-Traceid"}}"}';
    const t = GoTemplate.parse(v118);
    const line = t.execute({
      Request: {
        Method: 'POST',
        RequestURI: '/a?b="c"',
        ContentLength: 5,
        UserAgent: () => 'ua',
        RemoteAddr: '127.0.0.1:5000',
        Referer: () => '',
        Proto: 'HTTP/1.1',
        Header: { goIndex: () => ['abc'] },
      },
      Response: { Code: 201, Size: 3, Latency: 0.5 },
      Revision: { PodIP: '10.0.0.1' },
    });
    expect(JSON.parse(line)).toEqual({
      httpRequest: {
        requestMethod: 'POST',
        requestUrl: '/a?b="c"',
        requestSize: '5',
        status: 201,
        responseSize: '3',
        userAgent: 'ua',
        remoteIp: '127.0.0.1:5000',
        serverIp: '10.0.0.1',
        referer: '',
        latency: '0.5s',
        protocol: 'HTTP/1.1',
      },
      traceId: '[abc]',
    });
  });
});

describe('go-format', () => {
  it('prints float64 as Go’s %v', () => {
    expect(formatGoFloat(0.5)).toBe('0.5');
    expect(formatGoFloat(0.000012)).toBe('1.2e-05');
    expect(formatGoFloat(1234567.5)).toBe('1.2345675e+06');
    expect(formatGoFloat(123456.5)).toBe('123456.5');
  });

  it('escapes as template.JSEscapeString and url.QueryEscape', () => {
    expect(goJsEscape('a"b\\c\n\u2028é')).toBe('a\\"b\\\\c\\u000A\\u2028é');
    expect(goQueryEscape('é ~')).toBe('%C3%A9+~');
  });

  it('reports extra and mismatched operands as Go does', () => {
    expect(goSprintf('%d', ['x'])).toBe('%!d(string=x)');
    expect(goSprintf('%s %t', [200, 'x'])).toBe('%!s(int=200) %!t(string=x)');
    expect(goSprintf('a', [1])).toBe('a%!(EXTRA int=1)');
    expect(goSprintf('%-4s|%04d|%+d|%%', ['ab', 7, 3])).toBe('ab  |0007|+3|%');
  });
});
