import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GoTemplate, GoTemplateParseError, type LoggedRequest, RequestLog } from '@zerogate/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './support/processes.js';
import { GO, gate } from './support/tools.js';

/**
 * Zerogate's request log templates against Go's own: each template runs on the same request in Go's
 * text/template with a net/http Request (test/support/go-template-oracle) and in ours with the request
 * log's data, and the lines must be the same, or both must refuse it.
 */

const REVISION = {
  Name: 'hello-00001',
  Namespace: 'default',
  Service: 'hello',
  Configuration: 'hello',
  PodName: 'hello-00001-deployment-abc',
  PodIP: '10.0.0.7',
};

/** Knative's documented request log template (config-observability, Knative ≥ 1.19). */
const KNATIVE_TEMPLATE =
  '{"httpRequest": {"requestMethod": "{{.Request.Method}}", "requestUrl": "{{js .Request.RequestURI}}", "requestSize": "{{.Request.ContentLength}}", "status": {{.Response.Code}}, "responseSize": "{{.Response.Size}}", "userAgent": "{{js .Request.UserAgent}}", "remoteIp": "{{js .Request.RemoteAddr}}", "serverIp": "{{.Revision.PodIP}}", "referer": "{{js .Request.Referer}}", "latency": "{{.Response.Latency}}s", "protocol": "{{.Request.Proto}}"}, "traceId": "{{.TraceID}}"}';

const TEMPLATES = [
  KNATIVE_TEMPLATE,
  KNATIVE_TEMPLATE.replace('{{.TraceID}}', '{{index .Request.Header "X-B3-Traceid"}}'),
  '{{.Request.Method}} {{.Request.URL}} {{.Request.URL.Path}} {{.Request.URL.RawPath}} {{.Request.URL.RawQuery}} {{.Request.Host}} {{.Request.Proto}} {{.Request.ProtoMajor}}.{{.Request.ProtoMinor}}',
  '{{.Request.Header}}',
  '{{.Request.Header.Get "x-multi"}} {{.Request.Header.Values "X-Multi"}} {{index .Request.Header "X-Multi"}} {{index .Request.Header "x-multi"}} {{len .Request.Header}}',
  '{{.Request.UserAgent}}|{{.Request.Referer}}|{{.Request.ContentLength}}|{{.Request.RemoteAddr}}|{{.Request.RequestURI}}',
  '{{.Revision.Name}} {{.Revision.Namespace}} {{.Revision.Service}} {{.Revision.Configuration}} {{.Revision.PodName}} {{.Revision.PodIP}}',
  '{{.Response.Code}} {{.Response.Size}} {{.Response.Latency}} {{printf "%.3f" .Response.Latency}} {{printf "%v|%g|%e" .Response.Latency .Response.Latency .Response.Latency}}',
  '{{js .Request.UserAgent}}|{{html .Request.UserAgent}}|{{urlquery .Request.UserAgent}}|{{js "a" 1 "b" 2 3}}|{{urlquery .Request.Method "x y"}}',
  '{{printf "%s %d %5d|%-5d|%05d %x %X %q %t %c %%" .Request.Method .Response.Code 1 2 3 255 "hi" .Request.Method true 65}}',
  '{{printf "%d %s" "x" 200}} {{printf "%s"}} {{printf "a" 1 true}}',
  '{{print "a" 1 2 "b" true}}|{{println 1 "x"}}|{{print .Request.Header.Values "X-Multi"}}',
  '{{if eq .Response.Code 200 201}}ok{{else if ge .Response.Code 500}}server{{else}}other{{end}} {{if and .Request.Method (not .Request.Referer)}}no-ref{{end}} {{or .Request.Referer "none"}} {{and 1 0 2}}',
  '{{with .Request.Header.Get "X-Multi"}}[{{.}}]{{else}}-{{end}}{{with .Request.Referer}}{{.}}{{else}} no referer{{end}}',
  '{{range $i, $v := .Request.Header.Values "X-Multi"}}{{$i}}={{$v}};{{else}}empty{{end}}|{{range .Request.Header.Values "X-None"}}x{{else}}none{{end}}',
  '{{$m := .Request.Method}}{{$m = printf "%s!" $m}}{{$m}} {{$.Revision.Name}} {{(index .Request.Header "X-Multi") | len}} {{.Request.Method | len | printf "%03d"}}',
  '{{slice .Request.Method 1 2}} {{slice .Request.RequestURI 1}} {{index .Request.Method 0}} {{len .Request.UserAgent}}',
  '{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}} {{ne .Request.Method "GET"}} {{eq .Request.Proto "HTTP/1.1"}}',
  'a  {{- " b " -}}  c {{/* a comment */}} d\n{{- "e"}}',
  '{{"}}"}} {{`raw\\n`}} {{"esc\\t\\"q\\""}} {{true}} {{print nil}} {{1.5}} {{0x1F}} {{-3}}',
  '{{nil}}',
  '{{.Request.URL.Query}} {{.Request.URL.Query.Get "y"}} {{index .Request.URL.Query "x"}} {{.Request.URL.Query.Has "z"}}',
  '{{range $k, $v := .Request.Header}}{{$k}}={{$v}};{{end}}|{{range .Request.Header}}{{len .}}{{end}}',
  '{{js .Request.Header}}|{{printf "%s|%v|%q" .Request.Method .Request.URL .Request.Method}}|{{index .Request.Header "X-Multi" 0}}',
  '{{.Request.TransferEncoding}} {{.Request.Close}} {{.Request.Header.Get "Host"}} {{.Request.Header.Get "Transfer-Encoding"}}',
  '{{if .Request.Header.Get "X-Multi"}}{{with $x := index .Request.Header "X-Multi"}}{{len $x}}:{{$x}}{{end}}{{end}}',
  '{{.Request.UserAgent "x"}}',
  '{{.Request.Header.Get}}',
  '{{eq .Response.Code "201"}}',
  '{{lt .Request.Method 1}}',
  '{{.Request.Nope}}',
  '{{.Request.method}}',
  '{{index .Request.Method 99}}',
  '{{len 3}}',
  '{{.Request.Method',
  '{{nosuch 1}}',
  '{{$undefined}}',
  '{{if .Request.Method}}open',
  '{{end}}',
  '{{.Request.Method | "x"}}',
];

/** The requests each template runs on: raw HTTP/1.1, as a client sent them. */
const REQUESTS = [
  {
    raw: 'POST /echo/%7Euser/a%20b?x=1&y=%22q%22 HTTP/1.1\r\nHost: hello.default.example.com\r\nUser-Agent: curl/8.5 "quoted" <tag> & é\u2028\r\nReferer: http://ref.example/?a=b\r\nX-Multi: one\r\nx-multi: two\r\nTraceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nX-B3-Traceid: b3b3\r\nContent-Length: 11\r\n\r\n',
    remoteAddr: '127.0.0.1:54321',
    response: { Code: 201, Size: 335, Latency: 0.001234 },
  },
  {
    raw: 'GET / HTTP/1.0\r\nHost: h:8080\r\n\r\n',
    remoteAddr: '[::1]:1',
    response: { Code: 503, Size: 0, Latency: 0.000012 },
  },
  {
    raw: 'PUT /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nX-Multi: only\r\n\r\n',
    remoteAddr: '10.1.2.3:8080',
    response: { Code: 200, Size: 5, Latency: 1234567.5 },
  },
];

interface GoResult {
  readonly output?: string;
  readonly parseError?: string;
  readonly execError?: string;
}

/** A raw request as the request log reads it, as node:http or the relay would give it. */
function loggedRequest(raw: string, remoteAddr: string): LoggedRequest {
  const [head] = raw.split('\r\n\r\n') as [string];
  const [line, ...fields] = head.split('\r\n') as [string, ...string[]];
  const [method, url, version] = line.split(' ') as [string, string, string];
  const rawHeaders = fields.flatMap((f) => {
    const colon = f.indexOf(':');
    // Optional whitespace around a field value is spaces and tabs only (RFC 9110 §5.5).
    return [f.slice(0, colon), f.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '')];
  });
  const port = remoteAddr.lastIndexOf(':');
  return {
    method,
    url,
    httpVersion: version.slice('HTTP/'.length),
    rawHeaders,
    socket: {
      remoteAddress: remoteAddr.slice(0, port).replace(/^\[|\]$/g, ''),
      remotePort: Number(remoteAddr.slice(port + 1)),
    },
  };
}

/** Ours: the line, `parse` when the template does not parse, `exec` when it fails on the request. */
function ours(template: string, request: (typeof REQUESTS)[number]): string {
  let parsed: GoTemplate;
  try {
    parsed = GoTemplate.parse(template);
  } catch (err) {
    if (err instanceof GoTemplateParseError) return 'parse';
    throw err;
  }
  const lines: string[] = [];
  const { Code, Size, Latency } = request.response;
  new RequestLog(parsed, REVISION, (l) => lines.push(l)).write(
    loggedRequest(request.raw, request.remoteAddr),
    Code,
    Size,
    Latency,
  );
  return lines[0]!.startsWith('Invalid request log template:') ? 'exec' : lines[0]!;
}

/** Go's, in the same form: Knative adds the newline a template lacks. */
function theirs(result: GoResult): string {
  if (result.parseError) return 'parse';
  if (result.execError) return 'exec';
  return result.output!.endsWith('\n') ? result.output! : `${result.output}\n`;
}

describe.skipIf(!gate('go', GO, 'the Go-template oracle test'))(
  'request log templates against Go’s text/template',
  () => {
    let dir: string;
    let oracle: string;

    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'go-template-oracle-'));
      oracle = join(dir, 'oracle');
      // Standard library only: nothing is fetched.
      execFileSync('go', ['build', '-o', oracle, join(ROOT, 'test/support/go-template-oracle/main.go')], {
        env: { ...process.env, GOTOOLCHAIN: 'local', GOPROXY: 'off', GOFLAGS: '-buildvcs=false' },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    }, 180_000);

    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it.each(
      REQUESTS.map((r, i) => ({ ...r, n: i + 1 })),
    )('request $n: every template gives Go’s line, or fails as Go’s does', (request) => {
      const run = spawnSync(oracle, [], {
        input: JSON.stringify({ ...request, request: request.raw, revision: REVISION, templates: TEMPLATES }),
        encoding: 'utf8',
      });
      expect(run.status, run.stderr).toBe(0);
      const results = JSON.parse(run.stdout) as GoResult[];
      const differ = TEMPLATES.map((t, i) => ({
        template: t,
        go: theirs(results[i]!),
        ours: ours(t, request),
      })).filter((c) => c.go !== c.ours);
      expect(differ).toEqual([]);
    });
  },
);
