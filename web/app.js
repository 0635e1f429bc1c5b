// The upload page: asks /api/uploads for presigned URLs, sends each file straight to
// them (parts in parallel), resumes an interrupted multipart upload from the parts S3
// holds, and follows every asset's status over /api/events.
'use strict';

const $ = (s) => document.querySelector(s);
const PARALLEL = 4;
const TRIES = 3;

// The token: from the fragment (never sent to the server), else the field; kept for
// the session only.
(function takeToken() {
  const m = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (m) {
    sessionStorage.setItem('mpe-token', decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
})();
const token = () => sessionStorage.getItem('mpe-token') || '';

// Where the API is: config.json beside the scripts (mpe serve answers "/api/"; the
// stack's publish step writes its ApiUrl output there).
const apiBase = fetch('/web/config.json')
  .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`config.json: HTTP ${r.status}`))))
  .then((c) => {
    if (!c.apiUrl) throw new Error('config.json has no apiUrl');
    return c.apiUrl.endsWith('/') ? c.apiUrl : `${c.apiUrl}/`;
  });

async function api(path, opts = {}) {
  const headers = { ...(opts.headers || {}), Authorization: `Bearer ${token()}` };
  const r = await fetch(`${await apiBase}${path}`, { ...opts, headers });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = body.error || {};
    throw new Error(e.code ? `${e.code}: ${e.message}` : `HTTP ${r.status}`);
  }
  return body;
}

// S3's error documents carry their reason in <Message>.
function s3Reason(xml, status) {
  const m = /<Message>([^<]*)<\/Message>/.exec(xml || '');
  return m ? `${status}: ${m[1]}` : `HTTP ${status}`;
}

function put(url, blob, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('PUT', url);
    for (const [k, v] of Object.entries(headers || {})) x.setRequestHeader(k, v);
    x.upload.onprogress = (e) => onProgress(e.loaded);
    x.onload = () => (x.status >= 200 && x.status < 300
      ? resolve(x.getResponseHeader('ETag'))
      : reject(new Error(s3Reason(x.responseText, x.status))));
    x.onerror = () => reject(new Error('the network dropped'));
    x.send(blob);
  });
}

const units = ['B', 'KiB', 'MiB', 'GiB'];
function size(n) {
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i += 1; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function uploadRow(file) {
  const li = document.createElement('li');
  li.dataset.file = file.name;
  const label = document.createElement('label');
  label.textContent = `${file.name} (${size(file.size)})`;
  const bar = document.createElement('progress');
  bar.max = file.size;
  bar.value = 0;
  bar.id = `up-${Math.random().toString(36).slice(2)}`;
  label.htmlFor = bar.id;
  const info = document.createElement('span');
  info.className = 'info';
  info.setAttribute('role', 'status');
  li.append(label, bar, info);
  $('#uploads').append(li);
  return { li, bar, info };
}

async function upload(file) {
  const row = uploadRow(file);
  const resumeKey = `mpe-upload:${file.name}:${file.size}:${file.lastModified}`;
  try {
    let plan = JSON.parse(localStorage.getItem(resumeKey) || 'null');
    const held = new Map();
    if (plan && Date.parse(plan.expiresAt) > Date.now() + 60_000) {
      try {
        const p = await api(`uploads/${encodeURIComponent(plan.uploadId)}/parts`);
        for (const part of p.parts) held.set(part.partNumber, part);
      } catch (_) {
        plan = null; // completed, aborted or gone: start afresh
      }
    } else {
      plan = null;
    }
    if (!plan) {
      plan = await api('uploads', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          fileName: file.name,
          size: file.size,
          contentType: file.type || 'application/octet-stream',
        }),
      });
      if (plan.parts) localStorage.setItem(resumeKey, JSON.stringify(plan));
    }
    row.li.dataset.uploadId = plan.uploadId;
    const started = performance.now();
    let resumed = 0;
    for (const p of held.values()) resumed += p.size;
    const loaded = new Map();
    const show = () => {
      let now = resumed;
      for (const v of loaded.values()) now += v;
      row.bar.value = now;
      const secs = (performance.now() - started) / 1000;
      const rate = secs > 0 ? (now - resumed) / secs : 0;
      const left = rate > 0 ? Math.ceil((file.size - now) / rate) : null;
      row.info.textContent = `${Math.floor((100 * now) / file.size)}% · ${size(rate)}/s`
        + (left !== null ? ` · ${left} s left` : '')
        + (held.size ? ` · resumed after ${held.size} part(s)` : '');
    };
    if (!plan.parts) {
      await put(plan.url, file, plan.headers, (n) => { loaded.set(0, n); show(); });
    } else {
      const etags = new Map([...held.values()].map((p) => [p.partNumber, p.etag]));
      const todo = plan.parts.filter((p) => !held.has(p.partNumber));
      const worker = async () => {
        for (let p = todo.shift(); p; p = todo.shift()) {
          const from = (p.partNumber - 1) * plan.partSize;
          const blob = file.slice(from, Math.min(from + plan.partSize, file.size));
          for (let t = 1; ; t += 1) {
            try {
              etags.set(p.partNumber, await put(p.url, blob, {}, (n) => { loaded.set(p.partNumber, n); show(); }));
              break;
            } catch (e) {
              loaded.delete(p.partNumber);
              if (t >= TRIES) throw e;
            }
          }
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, worker));
      const xml = '<CompleteMultipartUpload>' + plan.parts.map((p) =>
        `<Part><PartNumber>${p.partNumber}</PartNumber><ETag>${etags.get(p.partNumber)}</ETag></Part>`).join('')
        + '</CompleteMultipartUpload>';
      const r = await fetch(plan.complete.url, {
        method: plan.complete.method, headers: { 'Content-Type': 'application/xml' }, body: xml,
      });
      const text = await r.text();
      // S3 may answer 200 and still report an error in the body.
      if (!r.ok || text.includes('<Error>')) throw new Error(s3Reason(text, r.status));
      localStorage.removeItem(resumeKey);
    }
    row.bar.value = file.size;
    row.info.textContent = 'uploaded';
    row.li.dataset.state = 'uploaded';
  } catch (e) {
    row.info.textContent = `failed: ${e.message}`;
    row.info.classList.add('error');
    row.li.dataset.state = 'failed';
  }
}

function take(files) {
  if (!token()) {
    $('#token-state').textContent = 'Enter the API token first.';
    $('#token').focus();
    return;
  }
  for (const f of files) upload(f);
}

// ------------------------------------------------------------------ assets
const rows = new Map();

function render(rec) {
  let tr = rows.get(rec.fileName);
  if (!tr) {
    tr = document.createElement('tr');
    tr.dataset.file = rec.fileName;
    tr.innerHTML = '<td class="name"></td><td class="status"></td><td><progress max="100"></progress></td><td class="time"></td><td class="play"></td>';
    rows.set(rec.fileName, tr);
  }
  $('#assets tbody').prepend(tr);
  tr.dataset.status = rec.status;
  tr.querySelector('.name').textContent = rec.fileName;
  const st = tr.querySelector('.status');
  st.textContent = rec.status + (rec.error ? `: ${rec.error}` : '');
  st.classList.toggle('error', rec.status === 'ERROR');
  const bar = tr.querySelector('progress');
  bar.value = rec.percent;
  bar.setAttribute('aria-label', `${rec.fileName}: ${rec.percent}%`);
  tr.querySelector('.time').textContent = rec.updatedAt;
  const play = tr.querySelector('.play');
  play.textContent = '';
  if (rec.status === 'COMPLETE') {
    const a = document.createElement('a');
    a.href = `/play/${encodeURIComponent(rec.fileName)}`;
    a.textContent = 'Play';
    a.setAttribute('aria-label', `Play ${rec.fileName}`);
    play.append(a);
  }
}

let events = null;
async function follow() {
  if (!token()) return;
  try {
    const page = await api('status?limit=500');
    for (const rec of [...page.items].reverse()) render(rec);
    $('#token-state').textContent = 'token accepted';
    $('#assets-state').textContent = page.items.length ? '' : 'No uploads yet.';
  } catch (e) {
    $('#token-state').textContent = e.message;
    return;
  }
  if (events) events.close();
  events = new EventSource(`${await apiBase}events?token=${encodeURIComponent(token())}`);
  // Each change is an event named by its detail-type.
  events.addEventListener('Upload Status Change', (m) => {
    const change = JSON.parse(m.data);
    $('#assets-state').textContent = '';
    render(change.detail);
  });
  events.onerror = () => { $('#assets-state').textContent = 'reconnecting to the event stream...'; };
  events.onopen = () => { $('#assets-state').textContent = ''; };
}

$('#token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem('mpe-token', $('#token').value.trim());
  $('#token').value = '';
  follow();
});
$('#files').addEventListener('change', (e) => { take(e.target.files); e.target.value = ''; });
const drop = $('#drop');
drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  take(e.dataTransfer.files);
});
drop.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); $('#files').click(); }
});
follow();
