import { type LoggedRequest, RequestLog, type RequestLogRevision } from '@zerogate/core';
import type { RequestLogSetting } from './knative-config-maps.js';
import type { Revision } from './revisions.js';

/**
 * The activator's request log, which `config-observability` turns on, off or reshapes while it runs
 * (docs/activator.md §7): one templated line on stdout per request for a known revision, as Knative's
 * activator writes it. `.Revision` carries the revision's name, namespace, service and configuration;
 * `PodName` and `PodIP` stay empty, as in Knative's.
 */
export class ActivatorRequestLog {
  private log: RequestLog | undefined;

  constructor(private readonly out: (line: string) => void) {}

  /** Takes a new setting: a template (on) or none (off). */
  set(setting: RequestLogSetting): void {
    this.log = setting.template ? new RequestLog(setting.template, NO_REVISION, this.out) : undefined;
  }

  /** Writes the line of `req` for `revision`, when the log is on. */
  write(req: LoggedRequest, revision: Revision, status: number, size: number, seconds: number): void {
    const log = this.log;
    if (!log) return;
    const { service, configuration } = revision.info;
    log.write(req, status, size, seconds, {
      Name: revision.name,
      Namespace: revision.namespace,
      Service: service ?? '',
      Configuration: configuration ?? '',
      PodName: '',
      PodIP: '',
    });
  }
}

const NO_REVISION: RequestLogRevision = Object.freeze({
  Name: '',
  Namespace: '',
  Service: '',
  Configuration: '',
  PodName: '',
  PodIP: '',
});
