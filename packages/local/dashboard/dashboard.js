/*
 * The local platform's live dashboard: one server-sent event stream (`events`) brings a status snapshot
 * a second (and soon after a Pod changes); each revision gets its figures, three charts of up to the
 * last two minutes drawn as inline SVG, and its Pods; clicking a Pod shows the tail of its logs (`logs/<name>`).
 * No build step and nothing from elsewhere: this file is served as it is.
 */

/** Time a chart spans at most, and at least (it widens as snapshots arrive, up to the most). */
const WINDOW_MS = 120_000;
const MIN_SPAN_MS = 20_000;
/** The charts' drawing box (stretched to the figure's width). */
const WIDTH = 300;
const HEIGHT = 80;
/** Bytes of a log tail fetched when a Pod is clicked. */
const LOG_TAIL_BYTES = 65_536;
/** Wait before opening the stream again after the server refused or closed it. */
const RECONNECT_MS = 3000;
const SVG = 'http://www.w3.org/2000/svg';

/** What each chart draws, per revision. */
const CHARTS = [
  {
    id: 'pods',
    title: () => 'Pods',
    series: [
      { key: 'desiredPods', label: 'desired' },
      { key: 'readyPods', label: 'ready' },
    ],
  },
  {
    id: 'concurrency',
    title: (r) => (r.metric === 'rps' ? 'Autoscaler: requests/s' : 'Autoscaler: concurrency'),
    series: [
      { key: 'stableConcurrency', label: 'stable' },
      { key: 'panicConcurrency', label: 'panic' },
      { key: 'capacity', label: 'target × ready Pods' },
    ],
  },
  {
    id: 'traffic',
    title: () => 'Traffic',
    series: [
      { key: 'rps', label: 'req/s' },
      { key: 'inFlight', label: 'in flight' },
      { key: 'held', label: 'held' },
    ],
  },
];

/** Per revision (`namespace/name`): its section and the snapshots of the chart window. */
const revisions = new Map();
let openLogName;
let openLogNames = [];

const $ = (id) => document.getElementById(id);

function connect() {
  const source = new EventSource('events');
  source.onopen = () => setConnection('live', 'live');
  source.onmessage = (event) => render(JSON.parse(event.data));
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      // Refused (too many streams, shutting down) or gone: the browser will not retry by itself.
      setConnection('closed', 'disconnected; retrying…');
      setTimeout(connect, RECONNECT_MS);
    } else setConnection('connecting', 'reconnecting…');
  };
}

function setConnection(state, text) {
  const el = $('connection');
  el.dataset.state = state;
  el.textContent = text;
}

function render(status) {
  $('pod-count').textContent = `Pods: ${status.pods} of at most ${status.maxPods}`;
  renderComponentLogs(status.logs);
  for (const r of status.revisions) {
    const key = `${r.namespace}/${r.name}`;
    let entry = revisions.get(key);
    if (!entry) {
      entry = createRevision(key);
      revisions.set(key, entry);
    }
    entry.history.push({ ...r, time: status.time, capacity: r.target * r.readyPods });
    while (entry.history.length > 0 && status.time - entry.history[0].time > WINDOW_MS) entry.history.shift();
    updateRevision(entry, r, status.time);
  }
}

function renderComponentLogs(names) {
  const nav = $('component-logs');
  if (nav.dataset.names === names.join(',')) return;
  nav.dataset.names = names.join(',');
  nav.replaceChildren('logs:');
  for (const name of names) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'link';
    button.textContent = name;
    button.addEventListener('click', () => openLog([name]));
    nav.append(' ', button);
  }
}

function createRevision(key) {
  const section = $('revision-template').content.firstElementChild.cloneNode(true);
  section.dataset.revision = key;
  const charts = section.querySelector('.charts');
  const drawn = {};
  for (const chart of CHARTS) {
    const figure = document.createElement('figure');
    figure.className = 'chart';
    figure.dataset.chart = chart.id;
    const caption = document.createElement('figcaption');
    const title = document.createElement('span');
    title.className = 'title';
    const max = document.createElement('span');
    max.className = 'max';
    caption.append(title, ' ', max);
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', `0 0 ${WIDTH} ${HEIGHT}`);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    const lines = {};
    const legend = document.createElement('div');
    legend.className = 'legend';
    chart.series.forEach((series, i) => {
      const line = document.createElementNS(SVG, 'polyline');
      line.dataset.series = series.key;
      line.setAttribute('class', `series s${i}`);
      svg.append(line);
      lines[series.key] = line;
      const item = document.createElement('span');
      item.className = `s${i}`;
      item.textContent = series.label;
      legend.append(item);
    });
    figure.append(caption, svg, legend);
    charts.append(figure);
    drawn[chart.id] = { title, max, svg, lines };
  }
  $('revisions').append(section);
  return { section, charts: drawn, history: [] };
}

function updateRevision(entry, r, now) {
  const { section } = entry;
  const set = (field, text) => {
    const el = section.querySelector(`[data-field="${field}"]`);
    if (el.textContent !== text) el.textContent = text;
  };
  set('name', `${r.namespace}/${r.name}`);
  set('mode', r.mode);
  section.querySelector('.mode').dataset.mode = r.mode;
  for (const f of ['desiredPods', 'readyPods', 'inFlight', 'held']) set(f, String(r[f]));
  set('rps', r.rps.toFixed(1));
  set('stableConcurrency', number(r.stableConcurrency));
  set('panicConcurrency', `${number(r.panicConcurrency)}${r.panic ? ' (panic)' : ''}`);
  set('target', `${number(r.target)} per Pod`);
  const reason = section.querySelector('[data-field="reason"]');
  reason.hidden = !r.reason;
  reason.textContent = r.reason ?? '';
  for (const chart of CHARTS) drawChart(entry.charts[chart.id], chart, r, entry.history, now);
  renderPods(section.querySelector('.pods tbody'), r.pods);
}

function drawChart(drawn, chart, r, history, now) {
  drawn.title.textContent = chart.title(r);
  let top = 0;
  for (const s of history) for (const series of chart.series) top = Math.max(top, s[series.key] ?? 0);
  top = niceCeiling(top);
  const span = Math.min(WINDOW_MS, Math.max(MIN_SPAN_MS, now - (history[0]?.time ?? now)));
  drawn.max.textContent = `max ${top}`;
  drawn.svg.dataset.max = String(top);
  for (const series of chart.series) {
    const points = [];
    for (const s of history) {
      const value = s[series.key];
      if (value === null || value === undefined) continue;
      const x = WIDTH - ((now - s.time) / span) * WIDTH;
      const y = HEIGHT - 2 - (value / top) * (HEIGHT - 4);
      points.push(`${x.toFixed(1)},${y.toFixed(1)}`);
    }
    const line = drawn.lines[series.key];
    line.setAttribute('points', points.join(' '));
    const last = history.at(-1)?.[series.key];
    line.dataset.last = last === null || last === undefined ? '' : String(last);
  }
}

/** The smallest 1, 2 or 5 × 10^k at or above `value` (at least 1), so the scale reads easily. */
function niceCeiling(value) {
  if (!(value > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/** Updates the Pods' rows in place (a row a click is on stays the same element), adding and dropping rows. */
function renderPods(tbody, pods) {
  const existing = new Map([...tbody.rows].map((tr) => [tr.dataset.pod, tr]));
  const rows = pods.map((pod) => {
    let tr = existing.get(pod.name);
    if (!tr) {
      tr = document.createElement('tr');
      tr.dataset.pod = pod.name;
      tr.tabIndex = 0;
      tr.title = 'show its log';
      for (const className of ['name', 'state', 'age', 'restarts', 'reason']) {
        const td = document.createElement('td');
        td.className = className;
        tr.append(td);
      }
      tr.addEventListener('click', () => openLog(JSON.parse(tr.dataset.logs)));
      tr.addEventListener('keydown', (event) => {
        if (event.key === 'Enter') openLog(JSON.parse(tr.dataset.logs));
      });
    }
    tr.dataset.state = pod.state;
    tr.dataset.logs = JSON.stringify(pod.logs);
    tr.classList.toggle('selected', pod.logs.includes(openLogName));
    const age =
      pod.endedSecondsAgo === null ? duration(pod.ageSeconds) : `ended ${duration(pod.endedSecondsAgo)} ago`;
    const texts = [pod.name, pod.state, age, String(pod.restarts), pod.reason ?? ''];
    texts.forEach((text, i) => {
      if (tr.cells[i].textContent !== text) tr.cells[i].textContent = text;
    });
    return tr;
  });
  if (rows.length !== tbody.rows.length || rows.some((tr, i) => tbody.rows[i] !== tr))
    tbody.replaceChildren(...rows);
}

async function openLog(names, name = names[0]) {
  openLogNames = names;
  openLogName = name;
  const panel = $('logs');
  panel.hidden = false;
  $('log-name').textContent = name;
  const buttons = names.map((n) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.textContent = n.slice(n.lastIndexOf('.') + 1);
    button.dataset.log = n;
    button.setAttribute('aria-pressed', String(n === name));
    button.addEventListener('click', () => openLog(names, n));
    return button;
  });
  $('log-containers').replaceChildren(...(names.length > 1 ? buttons : []));
  for (const tr of document.querySelectorAll('tr[data-pod]'))
    tr.classList.toggle('selected', JSON.parse(tr.dataset.logs).includes(name));
  const pre = $('log-text');
  pre.dataset.log = name;
  pre.dataset.loaded = 'false';
  try {
    const res = await fetch(`logs/${encodeURIComponent(name)}?bytes=${LOG_TAIL_BYTES}`, {
      cache: 'no-store',
    });
    const text = await res.text();
    if (openLogName !== name) return;
    pre.textContent = res.ok ? text || '(empty)' : `(${res.status}: ${text.trim()})`;
  } catch (err) {
    if (openLogName !== name) return;
    pre.textContent = `(could not read the log: ${err.message})`;
  }
  pre.dataset.loaded = 'true';
  pre.scrollTop = pre.scrollHeight;
}

function number(value) {
  if (value === null || value === undefined) return '–';
  return Number.isInteger(value) ? String(value) : value.toFixed(2);
}

function duration(seconds) {
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`;
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`;
}

$('log-refresh').addEventListener('click', () => {
  if (openLogName) openLog(openLogNames, openLogName);
});
$('log-close').addEventListener('click', () => {
  $('logs').hidden = true;
  openLogName = undefined;
  for (const tr of document.querySelectorAll('tr.selected')) tr.classList.remove('selected');
});
connect();
