import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/support/http.js';
import { ActuatorError } from './actuator.js';
import { HttpLocalPlatform, PlatformRevisionSource } from './local-platform-client.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function platform(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const line = (event: object) => `${JSON.stringify(event)}\n`;
const upsert = (name: string, readyPods: string[] = []) =>
  line({ type: 'upsert', namespace: 'default', name, annotations: {}, containerConcurrency: 1, readyPods });

describe('PlatformRevisionSource', () => {
  it('delivers the first sync as existing revisions, then changes; after a reconnect drops what the platform no longer lists', async () => {
    let connections = 0;
    const url = await platform((_req, res) => {
      connections++;
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      if (connections === 1) {
        res.write(upsert('a') + upsert('b') + line({ type: 'synced' }));
        setTimeout(() => res.end(upsert('a', ['127.0.0.1:9'])), 50);
      } else {
        res.write(upsert('a', ['127.0.0.1:9']) + line({ type: 'synced' }));
      }
    });
    const events: string[] = [];
    const source = new PlatformRevisionSource({
      baseUrl: url,
      logger: pino({ level: 'silent' }),
      backoff: { initialMs: 10, maxMs: 100 },
    });
    await source.start({
      upsert: (ns, name, spec) =>
        events.push(`upsert ${ns}/${name} ${spec.readyPods.join()} ${spec.existing}`),
      remove: (ns, name) => events.push(`remove ${ns}/${name}`),
    });
    expect(events).toEqual(['upsert default/a  true', 'upsert default/b  true']);
    expect(await eventually(() => events.includes('remove default/b'), 3000)).toBe(true);
    await source.stop();
    expect(events).toEqual([
      'upsert default/a  true',
      'upsert default/b  true',
      'upsert default/a 127.0.0.1:9 false',
      'upsert default/a 127.0.0.1:9 false',
      'remove default/b',
    ]);
  });

  it('keeps retrying while the platform refuses, and stops cleanly', async () => {
    let attempts = 0;
    const url = await platform((_req, res) => {
      attempts++;
      res.writeHead(503).end();
    });
    const source = new PlatformRevisionSource({
      baseUrl: url,
      logger: pino({ level: 'silent' }),
      backoff: { initialMs: 10, maxMs: 20 },
    });
    await source.start({ upsert: () => {}, remove: () => {} });
    expect(await eventually(() => attempts >= 3, 3000)).toBe(true);
    await source.stop();
    // A request written just before the abort may still reach the server later; after that nothing
    // comes, where retries every 10-20 ms would never leave the count still for 300 ms.
    const stillFor300Ms = async () => {
      const before = attempts;
      await new Promise((r) => setTimeout(r, 300));
      return attempts === before;
    };
    expect(await eventually(stillFor300Ms, 3000)).toBe(true);
  });
});

describe('HttpLocalPlatform', () => {
  it('puts scale and mode, and turns a refusal into an ActuatorError with the platform’s reason', async () => {
    const calls: string[] = [];
    const url = await platform((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        calls.push(`${req.method} ${req.url} ${body}`);
        if (body.includes('"desiredPods":-1'))
          res.writeHead(400).end('desiredPods must be a non-negative integer\n');
        else res.writeHead(204).end();
      });
    });
    const p = new HttpLocalPlatform(url);
    const rev = { namespace: 'default', name: 'hello-00001' };
    await p.setDesiredPods(rev, 2);
    await p.setMode(rev, 'Serve');
    expect(calls).toEqual([
      'PUT /v1/revisions/default/hello-00001/scale {"desiredPods":2}',
      'PUT /v1/revisions/default/hello-00001/mode {"mode":"Serve"}',
    ]);
    const err = await p.setDesiredPods(rev, -1).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ActuatorError);
    expect((err as ActuatorError).code).toBe('ERR_ACTUATOR_SCALE');
    expect((err as Error).message).toContain('400 to scale: desiredPods must be a non-negative integer');
    expect(p.activatorUrl(rev)).toBe(`${url}/v1/revisions/default/hello-00001/public`);
  });

  it('fails a call to a platform that is gone with an ActuatorError', async () => {
    const url = await platform(() => {});
    server?.close();
    const err = await new HttpLocalPlatform(url)
      .setMode({ namespace: 'a', name: 'b' }, 'Proxy')
      .catch((e: unknown) => e);
    expect((err as ActuatorError).code).toBe('ERR_ACTUATOR_MODE');
  });
});
