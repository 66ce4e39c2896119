/**
 * `bad-endpoints`: the activator's file endpoint source fed bad documents while it serves steady load:
 * a file that is not JSON, a revision object with a negative `containerConcurrency`, and an endpoint
 * whose address is not `host:port`. It must keep serving with the revisions it had, and log each bad
 * document once (not again on every re-read).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { NAMESPACE, REVISION, REVISION_HEADERS, sleep } from '../scenarios/common.js';
import { type ChaosContext, type ChaosResult, type ChaosScenario, RSS_CAPS_KIB } from './chaos-scenario.js';
import { ComponentSampler } from './component-sampler.js';
import { accountFault } from './outcomes.js';
import { startPod, startStandaloneActivator } from './standalone.js';
import { SteadyLoad, waitForSuccesses } from './steady-load.js';

/** The bad documents, each written in turn over the endpoints file. */
export function badDocuments(goodAddress: string): { readonly name: string; readonly text: string }[] {
  const revision = (fields: object) =>
    JSON.stringify({
      revisions: [
        {
          namespace: NAMESPACE,
          name: REVISION,
          endpoints: [{ address: goodAddress, ready: true }],
          ...fields,
        },
      ],
    });
  return [
    { name: 'not JSON', text: '{"revisions": [ {"namespace": "default", ' },
    { name: 'negative containerConcurrency', text: revision({ containerConcurrency: -1 }) },
    {
      name: 'endpoint address not host:port',
      text: revision({ endpoints: [{ address: 'nowhere', ready: true }] }),
    },
  ];
}

/** The activator's log line for a malformed endpoints file (`endpoint-source-file.ts`). */
const MALFORMED_LINE = 'malformed endpoints file';
/** The file source re-reads every second; wait for more than one re-read after each document. */
const DOCUMENT_GAP_MS = 2500;

export const badEndpoints: ChaosScenario = {
  name: 'bad-endpoints',
  description: "malformed endpoints files for the activator's file source under steady load",
  lossDefinition: 'every failed request: the activator keeps the revisions it had',
  budgetSeconds: 60,
  async run(context: ChaosContext): Promise<ChaosResult> {
    const pod = await startPod(context);
    const address = `127.0.0.1:${pod.queueProxy.port}`;
    const activator = await startStandaloneActivator(context, [{ address, ready: true }]);
    try {
      const sampler = new ComponentSampler(activator.proc.pid);
      const load = new SteadyLoad({
        origin: activator.origin,
        headers: REVISION_HEADERS,
        clients: 5,
        timeoutMs: 5000,
      });
      await waitForSuccesses(load, 5, 10_000);
      const faultAt = performance.now();
      const documents = badDocuments(address);
      for (const doc of documents) {
        context.progress(`bad-endpoints: writing a document with ${doc.name}`);
        const tmp = `${activator.endpointsFile}.tmp`;
        writeFileSync(tmp, doc.text);
        renameSync(tmp, activator.endpointsFile);
        await sleep(DOCUMENT_GAP_MS);
      }
      const records = await load.stop();
      const usage = sampler.stop();
      const lines = readFileSync(activator.logFile, 'utf8').split('\n');
      const logged = lines.filter((line) => line.includes(MALFORMED_LINE)).length;
      const account = accountFault(records, faultAt, 'all');
      return {
        rows: [
          {
            scenario: 'bad endpoints file',
            component: 'activator',
            sent: account.sent,
            outcomes: account.outcomes,
            lost: account.lost,
            peakRssKiB: usage.peakRssKiB,
            rssCapKiB: RSS_CAPS_KIB.activator,
            cpuSeconds: usage.cpuSeconds,
            checks: [
              { name: `logged ${logged}× for ${documents.length}`, pass: logged === documents.length },
            ],
          },
        ],
        details: [
          `${documents.length} bad documents (${documents.map((d) => d.name).join('; ')}), ${DOCUMENT_GAP_MS / 1000} s apart; ` +
            `${logged} "${MALFORMED_LINE}" line(s) logged, ${lines.filter((l) => l !== '').length} lines in all`,
        ],
      };
    } finally {
      activator.cleanUp();
      pod.cleanUp();
    }
  },
};
