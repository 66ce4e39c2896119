import { afterAll, afterEach, beforeEach } from 'vitest';
import { startedProcesses, type TestProcess } from './processes.js';

// Processes started by a test are killed after it; those started in beforeAll live until the file ends.
let before = new Set<TestProcess>();

beforeEach(() => {
  before = new Set(startedProcesses);
});

afterEach(async () => {
  await Promise.all([...startedProcesses].filter((p) => !before.has(p)).map((p) => p.kill()));
});

afterAll(async () => {
  await Promise.all([...startedProcesses].map((p) => p.kill()));
});
