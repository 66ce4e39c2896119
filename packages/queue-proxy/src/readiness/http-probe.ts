import type http2 from 'node:http2';
import type https from 'node:https';
import { joinHostPort, nodeHttp, nodeHttps } from '@zerogate/core';
import { h2cExchange } from './h2c-exchange.js';
import { H2cProtocolError } from './h2c-protocol-error.js';
import { http1Get, type Requester } from './http1-get.js';
import { PROBE_USER_AGENT, type ProbeAttempt } from './probe-attempt.js';
import type { HttpProbeSpec } from './probe-spec.js';

/** HTTP/2 forbids connection-specific headers (RFC 9113 §8.2.2); node:http2 throws on them. */
const H2_FORBIDDEN_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

function isReadyStatus(status: number): boolean {
  // The kubelet and Knative treat every 2xx and 3xx as ready; redirects are not followed.
  return status >= 200 && status < 400;
}

function notReady(status: number): Error {
  return new Error(`HTTP probe did not respond Ready, got status code: ${status}`);
}

/**
 * Builds the attempt of an HTTP(S) probe, its request headers computed once: a GET of the path that
 * passes on 2xx and 3xx (`health.HTTPProbe`). With `http2AutoDetect` a cleartext probe tries
 * prior-knowledge h2c first and falls back to HTTP/1.1 only when the server does not speak HTTP/2.
 */
export function httpProbe(spec: HttpProbeSpec, http2AutoDetect: boolean): ProbeAttempt {
  // Like the kubelet, the probe's own User-Agent replaces the default and its Host names the authority.
  let hostHeader: string | undefined;
  let userAgentSet = false;
  const h1: Record<string, string | string[]> = {};
  const h2: http2.OutgoingHttpHeaders = {};
  for (const [rawName, value] of spec.headers) {
    const name = rawName.toLowerCase();
    if (name === 'host') {
      hostHeader = value;
      continue;
    }
    if (name === 'user-agent') userAgentSet = true;
    appendHeader(h1, name, value);
    // HTTP/2 allows `te` only as `trailers`.
    if (!H2_FORBIDDEN_HEADERS.has(name) && (name !== 'te' || value === 'trailers')) {
      appendHeader(h2, name, value);
    }
  }
  if (!userAgentSet) {
    h1['user-agent'] = PROBE_USER_AGENT;
    h2['user-agent'] = PROBE_USER_AGENT;
  }
  if (hostHeader !== undefined) h1['host'] = hostHeader;
  // Keep-alive off, as Knative's prober transport: every attempt gets a fresh connection.
  h1['connection'] = 'close';

  const h1Options: https.RequestOptions = {
    host: spec.host,
    port: spec.port,
    path: spec.path,
    method: 'GET',
    headers: h1,
    agent: false,
    // The kubelet does not verify the user container's certificate; neither does Knative.
    rejectUnauthorized: false,
  };
  const request: Requester = spec.scheme === 'https' ? nodeHttps().request : nodeHttp.request;
  const viaH1: ProbeAttempt = async (signal) => {
    const status = await http1Get(request, h1Options, signal);
    if (!isReadyStatus(status)) throw notReady(status);
  };

  // h2c is cleartext only; over TLS the protocol would be negotiated by ALPN instead.
  if (!http2AutoDetect || spec.scheme !== 'http') return viaH1;

  const authority = joinHostPort(spec.host, spec.port);
  const h2Headers: http2.OutgoingHttpHeaders = {
    ...h2,
    ':method': 'GET',
    ':path': spec.path,
    ':scheme': 'http',
    ':authority': hostHeader ?? authority,
  };
  const url = `http://${authority}`;
  return async (signal) => {
    let status: number;
    try {
      ({ status } = await h2cExchange(url, h2Headers, undefined, 'drain', signal));
    } catch (err) {
      // Only a server that answered in something other than HTTP/2 earns an HTTP/1.1 retry; a refused
      // connection or a timeout would fail the same way again.
      if (err instanceof H2cProtocolError && !signal.aborted) return viaH1(signal);
      throw err;
    }
    if (!isReadyStatus(status)) throw notReady(status);
  };
}

function appendHeader(
  headers: Record<string, string | string[] | number | undefined>,
  name: string,
  value: string,
): void {
  const prev = headers[name];
  if (prev === undefined) headers[name] = value;
  else headers[name] = Array.isArray(prev) ? [...prev, value] : [String(prev), value];
}
