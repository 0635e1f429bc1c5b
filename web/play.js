// The player page: the asset's status record, its HLS (hls.js) or DASH (dash.js)
// ladder with automatic or chosen rendition, trick-play tiles over the seek bar from the
// WebVTT sprite track, its thumbnails and its MP4 downloads.
'use strict';

const $ = (s) => document.querySelector(s);
const name = decodeURIComponent(location.pathname.slice('/play/'.length));
const m = location.hash.match(/(?:^#|&)token=([^&]+)/);
if (m) {
  sessionStorage.setItem('mpe-token', decodeURIComponent(m[1]));
  history.replaceState(null, '', location.pathname);
}
const video = $('#video');
let engine = null; // { kind, levels(), choose(i), current(), destroy() }

function say(text) { $('#state').textContent = text; }

function useHls(url) {
  if (!window.Hls || !window.Hls.isSupported()) {
    video.src = url; // Safari plays HLS natively
    return { kind: 'hls', levels: () => [], choose() {}, current: () => 'native', destroy() { video.removeAttribute('src'); } };
  }
  const hls = new window.Hls();
  hls.loadSource(url);
  hls.attachMedia(video);
  hls.on(window.Hls.Events.MANIFEST_PARSED, () => { fillLevels(); video.play().catch(() => {}); });
  hls.on(window.Hls.Events.LEVEL_SWITCHED, showPlaying);
  hls.on(window.Hls.Events.ERROR, (_, d) => { if (d.fatal) say(`HLS error: ${d.details}`); });
  return {
    kind: 'hls',
    levels: () => hls.levels.map((l) => ({ height: l.height, bitrate: l.bitrate })),
    choose(i) { hls.currentLevel = i; },
    current: () => {
      const l = hls.levels[hls.currentLevel];
      return l ? `${l.height}p` : '';
    },
    destroy() { hls.destroy(); },
  };
}

function useDash(url) {
  const player = window.dashjs.MediaPlayer().create();
  player.updateSettings({ debug: { logLevel: window.dashjs.Debug.LOG_LEVEL_WARNING } });
  player.initialize(video, url, true);
  const E = window.dashjs.MediaPlayer.events;
  player.on(E.STREAM_INITIALIZED, fillLevels);
  player.on(E.QUALITY_CHANGE_RENDERED, showPlaying);
  player.on(E.ERROR, (e) => say(`DASH error: ${JSON.stringify(e.error && e.error.message)}`));
  const reps = () => player.getRepresentationsByType('video') || [];
  return {
    kind: 'dash',
    levels: () => reps().map((r) => ({ height: r.height, bitrate: r.bandwidth })),
    choose(i) {
      const auto = i < 0;
      player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { video: auto } } } });
      if (!auto && reps()[i]) player.setRepresentationForTypeById('video', reps()[i].id, true);
    },
    current: () => {
      const r = player.getCurrentRepresentationForType('video');
      return r ? `${r.height}p` : '';
    },
    destroy() { player.reset(); },
  };
}

function fillLevels() {
  const sel = $('#rendition');
  sel.length = 1;
  engine.levels().forEach((l, i) => {
    const o = document.createElement('option');
    o.value = String(i);
    o.textContent = `${l.height}p · ${Math.round(l.bitrate / 1000)} kb/s`;
    sel.append(o);
  });
  showPlaying();
}

function showPlaying() { $('#playing').textContent = engine ? `playing ${engine.current()}` : ''; }

// ------------------------------------------------------------------ trick play
let tiles = [];

function seconds(t) {
  const parts = t.trim().split(':').map(Number);
  return parts.reduce((acc, p) => acc * 60 + p, 0);
}

async function loadTrickplay(url) {
  const text = await (await fetch(url)).text();
  const cues = text.replace(/\r/g, '').split('\n\n');
  tiles = [];
  for (const cue of cues) {
    const lines = cue.split('\n').filter(Boolean);
    const at = lines.findIndex((l) => l.includes('-->'));
    if (at < 0 || !lines[at + 1]) continue;
    const [from, to] = lines[at].split('-->').map((s) => seconds(s.split(' ').filter(Boolean)[0] || s));
    const [img, frag] = lines[at + 1].trim().split('#xywh=');
    if (!frag) continue;
    const [x, y, w, h] = frag.split(',').map(Number);
    tiles.push({ from, to, src: new URL(img, url).href, x, y, w, h });
  }
}

const seek = $('#seek');
const tile = $('#tile');
seek.addEventListener('input', () => { video.currentTime = Number(seek.value); });
video.addEventListener('loadedmetadata', () => { seek.max = String(video.duration || 0); });
video.addEventListener('timeupdate', () => { seek.value = String(video.currentTime); });
seek.addEventListener('mousemove', (e) => {
  const box = seek.getBoundingClientRect();
  const t = ((e.clientX - box.left) / box.width) * (Number(seek.max) || 0);
  const cue = tiles.find((c) => t >= c.from && t < c.to) || tiles[tiles.length - 1];
  if (!cue) return;
  tile.style.width = `${cue.w}px`;
  tile.style.height = `${cue.h}px`;
  tile.style.backgroundImage = `url("${cue.src}")`;
  tile.style.backgroundPosition = `-${cue.x}px -${cue.y}px`;
  tile.style.left = `${Math.max(0, Math.min(box.width - cue.w, e.clientX - box.left - cue.w / 2))}px`;
  tile.style.display = 'block';
  tile.dataset.time = t.toFixed(1);
});
seek.addEventListener('mouseleave', () => { tile.style.display = 'none'; });

// ------------------------------------------------------------------ the record
function start(kind, o) {
  if (engine) engine.destroy();
  engine = kind === 'dash' && o.dash && window.dashjs ? useDash(o.dash) : useHls(o.hls);
  $('#engine').value = engine.kind;
}

async function main() {
  $('#title').textContent = name;
  document.title = `mpe: ${name}`;
  const token = sessionStorage.getItem('mpe-token') || '';
  // Where the API is: config.json beside the scripts, as for the upload page.
  const c = await fetch('/web/config.json').then((x) => (x.ok ? x.json() : {})).catch(() => ({}));
  if (!c.apiUrl) {
    say('/web/config.json is missing or has no apiUrl');
    return;
  }
  const base = c.apiUrl.endsWith('/') ? c.apiUrl : `${c.apiUrl}/`;
  const r = await fetch(`${base}status/${encodeURIComponent(name)}`, { headers: { Authorization: `Bearer ${token}` } });
  const rec = await r.json().catch(() => ({}));
  if (!r.ok) {
    say(rec.error ? `${rec.error.code}: ${rec.error.message}` : `HTTP ${r.status}`);
    return;
  }
  $('#record').textContent = JSON.stringify(rec, null, 2);
  if (rec.status !== 'COMPLETE') {
    say(`${rec.status}${rec.error ? `: ${rec.error}` : ` (${rec.percent}%)`}; reload when it is COMPLETE.`);
    return;
  }
  const o = rec.outputs;
  if (!window.Hls) say('the player libraries were not built into this mpe (run web/fetch-players.sh, then build)');
  start('hls', o);
  $('#engine').addEventListener('change', (e) => start(e.target.value, o));
  $('#rendition').addEventListener('change', (e) => engine.choose(Number(e.target.value)));
  for (const t of o.thumbnails) {
    const img = document.createElement('img');
    img.src = t;
    img.alt = `thumbnail ${t.split('/').pop()}`;
    $('#thumbs').append(img);
  }
  for (const f of o.mp4) {
    const li = document.createElement('li');
    const a = document.createElement('a');
    a.href = f;
    a.download = f.split('/').pop();
    a.textContent = a.download;
    li.append(a);
    $('#downloads').append(li);
  }
  if (o.trickplay) loadTrickplay(o.trickplay).catch((e) => say(`trick play: ${e.message}`));
}
main();
