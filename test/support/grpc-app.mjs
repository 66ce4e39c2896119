#!/usr/bin/env node
// A gRPC user container for tests (@grpc/grpc-js, insecure) on $HOST:$PORT (HOST default 127.0.0.1; PORT 0 =
// any; the bound port is printed as the first stdout line, `{"port":N}`). It serves zerogate.test.Tester
// (grpc-test.proto) and grpc.health.v1.Health, which reports NOT_SERVING when started with NOT_SERVING=1
// until SetServing says so.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

const here = dirname(fileURLToPath(import.meta.url));
const definition = loadSync([join(here, 'grpc-test.proto'), join(here, 'grpc-health.proto')], {
  keepCase: true,
  defaults: true,
});
const loaded = grpc.loadPackageDefinition(definition);

const SERVING = 1;
const NOT_SERVING = 2;
let serving = process.env.NOT_SERVING !== '1';
const stats = { slow_current: 0, slow_max: 0, slow_started: 0, cancelled: 0, health_checks: 0 };

/** What the app saw of the request, echoed back so tests can check the proxies' headers. */
function seen(call, text) {
  return {
    text,
    proxy: String(call.metadata.get('k-proxy-request')[0] ?? ''),
    forwarded_for: String(call.metadata.get('x-forwarded-for')[0] ?? ''),
  };
}

function trailer(pairs) {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(pairs)) md.set(k, v);
  return md;
}

const tester = {
  Echo(call, callback) {
    call.sendMetadata(trailer({ 'x-initial': 'hello' }));
    callback(
      null,
      seen(call, call.request.text),
      trailer({ 'x-echo-trailer': `echoed ${encodeURIComponent(call.request.text)}` }),
    );
  },
  Count(call) {
    for (let i = 0; i < call.request.n; i++) call.write(seen(call, String(i)));
    call.end(trailer({ 'x-count': String(call.request.n) }));
  },
  Collect(call, callback) {
    const texts = [];
    call.on('data', (m) => texts.push(m.text));
    call.on('end', () =>
      callback(null, seen(call, texts.join(',')), trailer({ 'x-collected': String(texts.length) })),
    );
  },
  Chat(call) {
    call.on('data', (m) => call.write(seen(call, `re:${m.text}`)));
    call.on('end', () => call.end(trailer({ 'x-chat': 'done' })));
  },
  Fail(call, callback) {
    // With `x-headers-first`, the response headers leave before the error status, which then ends the
    // stream in trailers (no message between them), rather than as one trailers-only HEADERS frame.
    if (call.metadata.get('x-headers-first').length > 0) call.sendMetadata(trailer({ 'x-initial': 'sent' }));
    callback({
      code: grpc.status.FAILED_PRECONDITION,
      details: `precondition failed: ${call.request.text} ünïcode 100%`,
      metadata: trailer({ 'x-reason': 'testing', 'x-detail-bin': Buffer.from([0, 1, 2, 255]) }),
    });
  },
  Slow(call, callback) {
    stats.slow_started++;
    stats.slow_current++;
    stats.slow_max = Math.max(stats.slow_max, stats.slow_current);
    let done = false;
    const finish = () => {
      if (done) return false;
      done = true;
      stats.slow_current--;
      return true;
    };
    const timer = setTimeout(() => {
      if (finish()) callback(null, seen(call, `slept ${call.request.ms}`));
    }, call.request.ms);
    call.on('cancelled', () => {
      clearTimeout(timer);
      if (finish()) stats.cancelled++;
    });
  },
  Stats(_call, callback) {
    callback(null, stats);
  },
  SetServing(call, callback) {
    serving = call.request.serving;
    callback(null, {});
  },
};

const health = {
  Check(_call, callback) {
    stats.health_checks++;
    callback(null, { status: serving ? SERVING : NOT_SERVING });
  },
  Watch(call) {
    call.write({ status: serving ? SERVING : NOT_SERVING });
  },
};

const server = new grpc.Server();
server.addService(loaded.zerogate.test.Tester.service, tester);
server.addService(loaded.grpc.health.v1.Health.service, health);
server.bindAsync(
  `${process.env.HOST ?? '127.0.0.1'}:${process.env.PORT ?? 0}`,
  grpc.ServerCredentials.createInsecure(),
  (err, port) => {
    if (err) throw err;
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  },
);
