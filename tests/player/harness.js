// Browser-side half of the mpe playback checker (see play.mjs / README.md).
//
// Loaded into a blank page together with either hls.js (global `Hls`) or
// dash.js (global `dashjs`). play.mjs calls `window.__mpe.run(opts)` and gets
// back the state object below; if the run does not finish in time, play.mjs
// reads `window.__mpe.snapshot()` instead, so partial results are reported.
//
// Checks, in order:
//   1. the manifest loads and playback (muted, via MSE) advances >= opts.seconds
//      of media time;
//   2. every video level / representation, forced one at a time (ABR off):
//      a fragment of that level is loaded+buffered, the level is the one being
//      rendered, and currentTime advances >= opts.levelSeconds on it;
//   3. with opts.full (VOD only): every fragment of that level gets loaded and
//      the buffer ahead of the playhead reaches the end of the presentation;
//   4. throughout: no fatal player error and no <video> 'error'.
'use strict';

(() => {
  const MAX_WARNINGS = 30;
  // Minimum decoded video frame rate accepted while currentTime advances
  // (catches video that stops decoding while the audio clock keeps going).
  const MIN_FPS = 5;
  // Largest accepted distance between the presentation start and where playback
  // actually began (hls.js routinely skips ~0.1-0.2 s of a start hole left by
  // B-frame/audio priming offsets).
  const MAX_START_GAP = 0.5;
  const state = {
    phase: 'init',
    player: null,
    mse: null,
    errors: [],
    warnings: [],
    levels: [],
    // The audio renditions the player offers (hls.js audio tracks, dash.js audio
    // representations), read once playback has started.
    audio: [],
    advanced_s: 0,
    duration_s: null,
    live: null,
    frames: 0,
    start_s: null,
    fatal: false,
    trace: [], // printed by play.mjs --verbose, not part of the JSON result
  };

  const video = document.getElementById('video');
  let stopped = false;

  function fmt(n) {
    return typeof n === 'number' && Number.isFinite(n) ? Math.round(n * 1000) / 1000 : n;
  }
  function error(msg) {
    trace(`ERROR ${msg}`);
    if (!state.errors.includes(msg)) state.errors.push(msg);
  }
  function fatal(msg) {
    state.fatal = true;
    error(msg);
  }
  function warn(msg) {
    if (state.warnings.length < MAX_WARNINGS && !state.warnings.includes(msg)) state.warnings.push(msg);
  }
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const T0 = performance.now();
  function trace(msg) {
    if (state.trace.length < 400) {
      state.trace.push(`${((performance.now() - T0) / 1000).toFixed(2)}s t=${fmt(video.currentTime)} ${msg}`);
    }
  }

  class StepFailed extends Error {}

  // Poll `pred` every 50 ms; fail the step after `ms` or as soon as a fatal
  // error has been seen.
  // With `progress` (a function returning a signature of the player's state),
  // also give up once that signature has not changed for `stallMs`.
  async function waitFor(pred, ms, what, progress = null, stallMs = 4000) {
    const deadline = performance.now() + ms;
    const desc = () => (typeof what === 'function' ? what() : what);
    let sig = progress ? progress() : null;
    let sigAt = performance.now();
    for (;;) {
      if (stopped) throw new StepFailed('stopped');
      if (state.fatal) throw new StepFailed(`aborted (fatal error) while waiting for ${desc()}`);
      let v = false;
      try {
        v = pred();
      } catch (e) {
        if (e instanceof StepFailed) throw e;
        v = false;
      }
      if (v) return v;
      if (performance.now() > deadline) throw new StepFailed(`timed out after ${ms / 1000}s waiting for ${desc()}`);
      if (progress) {
        const now = progress();
        if (now !== sig) {
          sig = now;
          sigAt = performance.now();
        } else if (performance.now() - sigAt > stallMs) {
          throw new StepFailed(`no progress for ${stallMs / 1000}s waiting for ${desc()}`);
        }
      }
      await sleep(50);
    }
  }

  async function ensurePlaying() {
    if (!video.paused) return;
    try {
      await video.play();
    } catch (e) {
      warn(`video.play() rejected: ${e && e.message}`);
    }
  }

  // One contiguous buffered range covers [from, duration] (0.3 s slack at the
  // start, 0.5 s at the end for audio/video end mismatches).
  function bufferedToEnd(from) {
    const d = video.duration;
    if (!Number.isFinite(d)) return false;
    const b = video.buffered;
    for (let i = 0; i < b.length; i++) {
      if (b.start(i) <= from + 0.3 && b.end(i) >= d - 0.5) return true;
    }
    return false;
  }
  function framesDecoded() {
    const q = video.getVideoPlaybackQuality ? video.getVideoPlaybackQuality() : null;
    return q ? q.totalVideoFrames : 0;
  }
  function bufferedString() {
    const b = video.buffered;
    const parts = [];
    for (let i = 0; i < b.length; i++) parts.push(`[${fmt(b.start(i))},${fmt(b.end(i))}]`);
    return parts.join('') || '[]';
  }

  video.addEventListener('error', () => {
    const e = video.error;
    fatal(`<video> error: code=${e ? e.code : '?'} ${e && e.message ? e.message : ''}`.trim());
  });
  for (const ev of ['loadedmetadata', 'playing', 'waiting', 'seeking', 'seeked', 'pause', 'ended', 'resize']) {
    video.addEventListener(ev, () =>
      trace(`<video> ${ev}${ev === 'resize' ? ` ${video.videoWidth}x${video.videoHeight}` : ''} buffered=${bufferedString()}`),
    );
  }
  video.addEventListener('stalled', () => warn(`<video> stalled at t=${fmt(video.currentTime)}`));

  // Shared driver: initial playback, then each level in turn.
  async function drive(opts, p) {
    state.phase = 'manifest';
    await waitFor(() => p.ready(), 20000, 'manifest to be parsed and levels known');
    state.levels = p.levelInfo().map((l, index) => ({
      index,
      ...l,
      played: false,
      fragments_loaded: 0,
      fragments_expected: null,
      frames: 0,
      rendered_width: null,
      rendered_height: null,
      advanced_s: 0,
    }));
    if (state.levels.length === 0) throw new StepFailed('player reports no playable levels/representations');

    // 1. initial playback
    state.phase = 'initial-playback';
    await ensurePlaying();
    await waitFor(() => video.readyState >= 2 && !video.paused && !video.seeking, 20000, 'playback to start');
    const t0 = video.currentTime;
    state.start_s = fmt(t0);
    state.audio = p.audioInfo ? p.audioInfo() : [];
    trace(`initial playback from ${fmt(t0)}`);
    const f0 = framesDecoded();
    state.duration_s = fmt(video.duration);
    state.live = p.isLive();
    if (Number.isFinite(video.duration) && video.duration - t0 < opts.seconds) {
      warn(`presentation (${fmt(video.duration)}s) is shorter than --seconds ${opts.seconds}`);
    }
    try {
      await waitFor(
        () => {
          state.advanced_s = fmt(video.currentTime - t0);
          if (video.ended) return true;
          if (video.paused) ensurePlaying();
          return video.currentTime - t0 >= opts.seconds;
        },
        Math.max(15000, opts.seconds * 4000),
        `currentTime to advance ${opts.seconds}s from ${fmt(t0)}`,
        () => video.currentTime,
        5000,
      );
    } catch (e) {
      if (!(e instanceof StepFailed)) throw e;
      error(`initial playback: ${e.message} (advanced ${state.advanced_s}s, buffered ${bufferedString()})`);
      if (state.fatal) return;
    }
    state.advanced_s = fmt(video.currentTime - t0);
    state.frames = framesDecoded() - f0;
    // Playback should begin at the start of the presentation. A late start means
    // the beginning was not buffered (e.g. first keyframe dropped by the player's
    // append window, so the whole first GOP is missing) and the player jumped the gap.
    const firstStart = p.presentationStart();
    if (t0 - firstStart > MAX_START_GAP) {
      error(
        `playback began at ${fmt(t0)}s instead of ~${fmt(firstStart)}s: the first ${fmt(t0 - firstStart)}s were not ` +
          `playable (player skipped a gap at the start; buffered ${bufferedString()})`,
      );
    }
    const playedToEnd = video.ended && video.currentTime >= video.duration - 0.3;
    state.played_to_end = playedToEnd && state.advanced_s < opts.seconds - 0.05;
    if (state.advanced_s < opts.seconds - 0.05 && playedToEnd) {
      warn(`played to the end: ${state.advanced_s}s from ${fmt(t0)} (presentation shorter than --seconds ${opts.seconds})`);
    }
    if (state.advanced_s < opts.seconds - 0.05 && !playedToEnd) {
      error(`initial playback advanced only ${state.advanced_s}s of media time (need ${opts.seconds}s)`);
    } else if (p.hasVideo() && state.frames < MIN_FPS * state.advanced_s) {
      error(`initial playback: only ${state.frames} video frames decoded in ${state.advanced_s}s of media time`);
    }

    // 2./3. every level
    state.phase = 'levels';
    p.disableAbr();
    const full = opts.full && state.live === false;
    if (opts.full && !full) warn('full fragment coverage check skipped (not a VOD presentation)');
    // short presentations: never ask for more than there is after t0
    const levelNeed = Number.isFinite(video.duration)
      ? Math.min(opts.levelSeconds, Math.max(0.3, video.duration - t0 - 0.5))
      : opts.levelSeconds;
    for (const lvl of state.levels) {
      if (state.fatal) break;
      const label = `level ${lvl.index} (${lvl.width}x${lvl.height} @${lvl.bitrate}bps${lvl.id !== undefined ? ` id=${lvl.id}` : ''})`;
      state.phase = `level-${lvl.index}`;
      trace(`forcing ${label}`);
      try {
        await p.forceLevel(lvl.index);
        // back to the start (also restarts loading if playback had ended)
        await p.seek(t0);
        await ensurePlaying();
        await waitFor(() => p.fragmentsSinceForce(lvl.index) > 0, 15000, `a fragment of ${label} to be loaded and buffered`);
        await waitFor(() => !video.seeking, 10000, 'seek to complete');
        // ...and seek again once the level's data is in: Chromium's video renderer
        // does not always recover from the buffer under the playhead being
        // replaced (audio keeps the clock running, no video frames) until it is
        // seeked. Set currentTime directly: a player's seek() may ignore a seek
        // to where it already is; both players follow the element's 'seeking'.
        const seeked = new Promise((r) => video.addEventListener('seeked', r, { once: true }));
        video.currentTime = t0;
        await Promise.race([seeked, sleep(10000)]);
        await waitFor(() => !video.seeking, 10000, 'seek to complete');
        await ensurePlaying();
        await waitFor(() => p.isRendering(lvl.index) && !video.seeking && video.readyState >= 2, 15000,
          () => `${label} to be rendered (rendering level ${p.renderedLevel()})`);
        const t1 = video.currentTime;
        const f1 = framesDecoded();
        await waitFor(
          () => {
            lvl.advanced_s = fmt(video.currentTime - t1);
            if (video.currentTime - t1 >= levelNeed) return true;
            if (video.ended) throw new StepFailed(`presentation ended before ${fmt(levelNeed)}s were played on ${label}`);
            if (video.paused) ensurePlaying();
            return false;
          },
          Math.max(15000, levelNeed * 5000),
          () => `playback to advance ${fmt(levelNeed)}s on ${label} (advanced ${lvl.advanced_s}s)`,
          () => video.currentTime,
          5000,
        );
        lvl.frames = framesDecoded() - f1;
        lvl.rendered_width = video.videoWidth;
        lvl.rendered_height = video.videoHeight;
        if (p.hasVideo() && lvl.frames < MIN_FPS * levelNeed) {
          throw new StepFailed(
            `only ${lvl.frames} video frames decoded while currentTime advanced ${lvl.advanced_s}s on ${label} ` +
              `(video stalled / undecodable while audio kept playing?)`,
          );
        }
        if (!p.isRendering(lvl.index)) {
          throw new StepFailed(`player switched away from forced ${label} (now rendering level ${p.renderedLevel()})`);
        }
        if (full) {
          lvl.fragments_expected = p.fragmentsExpected(lvl.index);
          await waitFor(
            () => {
              lvl.fragments_loaded = p.fragmentsLoaded(lvl.index);
              return (lvl.fragments_expected == null || lvl.fragments_loaded >= lvl.fragments_expected) && bufferedToEnd(t0);
            },
            20000,
            () =>
              `all ${lvl.fragments_expected ?? '(unknown number of)'} fragments of ${label} to load and one ` +
              `contiguous buffered range to cover ${fmt(t0)}..end ` +
              `(loaded ${lvl.fragments_loaded}, buffered ${bufferedString()}, duration ${fmt(video.duration)})`,
            () => `${p.fragmentsLoaded(lvl.index)} ${bufferedString()}`,
          );
        }
        lvl.fragments_loaded = p.fragmentsLoaded(lvl.index);
        if (lvl.fragments_expected == null) lvl.fragments_expected = p.fragmentsExpected(lvl.index);
        lvl.played = true;
      } catch (e) {
        if (!(e instanceof StepFailed)) throw e;
        lvl.fragments_loaded = p.fragmentsLoaded(lvl.index);
        error(`${label}: ${e.message}`);
      }
    }
    state.phase = 'done';
  }

  // ---------------------------------------------------------------- hls.js
  function hlsAdapter(url, opts) {
    const Hls = window.Hls;
    if (!Hls || !Hls.isSupported()) throw new StepFailed('hls.js reports MSE playback unsupported in this browser');
    state.player = `hls.js ${Hls.version}`;
    const retry = { maxNumRetry: 1, retryDelayMs: 100, maxRetryDelayMs: 200 };
    const policy = (ttfb, load) => ({
      default: { maxTimeToFirstByteMs: ttfb, maxLoadTimeMs: load, timeoutRetry: retry, errorRetry: retry },
    });
    const hls = new Hls({
      debug: false,
      enableWorker: true,
      preferManagedMediaSource: false, // plain MediaSource
      capLevelToPlayerSize: false,
      capLevelOnFPSDrop: false,
      startLevel: -1,
      maxBufferLength: opts.full ? 600 : 30,
      maxMaxBufferLength: opts.full ? 600 : 60,
      backBufferLength: Infinity,
      manifestLoadPolicy: policy(10000, 20000),
      playlistLoadPolicy: policy(10000, 20000),
      fragLoadPolicy: policy(10000, 30000),
    });
    window.__hls = hls;
    state.mse = window.MediaSource ? 'MediaSource' : 'ManagedMediaSource';

    let parsed = false;
    const frags = new Map(); // level -> Set(sn) of buffered main fragments
    let sinceSwitch = new Map(); // level -> count buffered since last forceLevel
    let manifestVariants = null;
    const badFrags = new Set(); // "level:sn" that errored

    hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => {
      parsed = true;
      manifestVariants = data.levels.length;
    });
    hls.on(Hls.Events.ERROR, (_e, d) => {
      const where = d.frag ? ` frag=${d.frag.url}` : d.url ? ` url=${d.url}` : d.context && d.context.url ? ` url=${d.context.url}` : '';
      const status = d.response && d.response.code ? ` http=${d.response.code}` : '';
      const why = d.reason ? ` (${d.reason})` : d.error && d.error.message ? ` (${d.error.message})` : '';
      const msg = `hls.js ${d.fatal ? 'fatal' : 'non-fatal'} ${d.type}/${d.details}${status}${where}${why}`;
      // hls.js marks such fragments parsed and moves on (FRAG_BUFFERED still fires): don't count them
      if (d.frag && d.frag.type === 'main' && d.type === 'mediaError' && !HLS_SOFT_MEDIA_ERRORS.has(d.details)) {
        badFrags.add(`${d.frag.level}:${d.frag.sn}`);
      }
      if (d.fatal) fatal(msg);
      else if (d.details === 'aborted') return; // expected on forced level switches
      else if (d.type === 'mediaError' && HLS_SOFT_MEDIA_ERRORS.has(d.details)) warn(msg);
      else error(msg); // network / parsing / append errors: a real problem even if hls.js recovers
    });
    hls.on(Hls.Events.FRAG_BUFFERED, (_e, d) => {
      const f = d.frag;
      if (f) trace(`hls FRAG_BUFFERED ${f.type} level=${f.level} sn=${f.sn}`);
      if (!f || f.type !== 'main' || typeof f.sn !== 'number' || badFrags.has(`${f.level}:${f.sn}`)) return;
      if (!frags.has(f.level)) frags.set(f.level, new Set());
      frags.get(f.level).add(f.sn);
      sinceSwitch.set(f.level, (sinceSwitch.get(f.level) || 0) + 1);
    });
    let videoTrack = false;
    hls.on(Hls.Events.BUFFER_CODECS, (_e, d) => {
      if (d && d.video) videoTrack = true;
    });
    hls.loadSource(url);
    hls.attachMedia(video);

    return {
      ready: () => parsed && hls.levels.length > 0,
      levelInfo: () => {
        if (manifestVariants !== null && hls.levels.length !== manifestVariants) {
          warn(`hls.js kept ${hls.levels.length} of ${manifestVariants} parsed levels`);
        }
        return hls.levels.map((l) => ({
          width: l.width || null,
          height: l.height || null,
          bitrate: l.bitrate,
          codecs: [l.videoCodec, l.audioCodec].filter(Boolean).join(','),
          url: Array.isArray(l.url) ? l.url[0] : l.url,
        }));
      },
      audioInfo: () =>
        (hls.audioTracks || []).map((t) => ({
          name: t.name,
          channels: t.attrs && t.attrs.CHANNELS ? Number(t.attrs.CHANNELS) : null,
          default: !!t.default,
          url: t.url,
        })),
      // start of the first fragment per the playlist (hls.js timeline)
      presentationStart: () => {
        const l = hls.levels.find((x) => x.details && x.details.fragments.length);
        return l ? l.details.fragments[0].start : 0;
      },
      isLive: () => {
        const l = hls.levels.find((x) => x.details);
        return l ? !!l.details.live : null;
      },
      disableAbr: () => {
        // nothing to do: the `hls.currentLevel = i` setter below selects a manual level (ABR off)
      },
      forceLevel: async (i) => {
        sinceSwitch = new Map();
        hls.currentLevel = i; // immediate switch: flushes the buffer, selects manual level (ABR off)
      },
      seek: (t) => {
        video.currentTime = t;
      },
      hasVideo: () => videoTrack || hls.levels.some((l) => l.videoCodec || l.width) || video.videoWidth > 0,
      fragmentsLoaded: (i) => (frags.get(i) ? frags.get(i).size : 0),
      // hls.currentLevel= flushes the buffer, so require a fresh FRAG_BUFFERED
      fragmentsSinceForce: (i) => sinceSwitch.get(i) || 0,
      fragmentsExpected: (i) => {
        const d = hls.levels[i] && hls.levels[i].details;
        return d ? d.fragments.length : null;
      },
      // getter: level of the fragment at the playhead
      renderedLevel: () => hls.currentLevel,
      isRendering: (i) => hls.currentLevel === i,
    };
  }

  // hls.js non-fatal media errors that are playback-state hiccups (stalls, small
  // holes it jumps) rather than broken media; everything else non-fatal is an error.
  const HLS_SOFT_MEDIA_ERRORS = new Set([
    'bufferStalledError',
    'bufferNudgeOnStall',
    'bufferSeekOverHole',
    'bufferFullError',
  ]);

  // --------------------------------------------------------------- dash.js
  function dashAdapter(url, opts) {
    const dashjs = window.dashjs;
    if (!dashjs) throw new StepFailed('dash.js failed to load');
    const player = dashjs.MediaPlayer().create();
    window.__dash = player;
    state.player = `dash.js ${player.getVersion()}`;
    state.mse = 'MediaSource';
    const E = dashjs.MediaPlayer.events;
    const retries = { MPD: 1, InitializationSegment: 1, MediaSegment: 1, IndexSegment: 1, BitstreamSwitchingSegment: 1 };
    const intervals = { MPD: 200, InitializationSegment: 200, MediaSegment: 200, IndexSegment: 200, BitstreamSwitchingSegment: 200 };
    const big = opts.full ? 600 : undefined;
    player.updateSettings({
      debug: { logLevel: dashjs.Debug.LOG_LEVEL_WARNING },
      streaming: {
        retryAttempts: retries,
        retryIntervals: intervals,
        lastBitrateCachingInfo: { enabled: false },
        lastMediaSettingsCachingInfo: { enabled: false },
        abr: { autoSwitchBitrate: { video: true, audio: true } },
        buffer: big
          ? { bufferTimeDefault: big, bufferTimeAtTopQuality: big, bufferTimeAtTopQualityLongForm: big, bufferToKeep: big }
          : {},
      },
    });

    let streamReady = false;
    let type = 'video';
    let reps = [];
    const loaded = new Map(); // representation id -> Set(segment index)
    let rendered = null; // representation id being rendered
    let sinceForce = new Map();
    let alreadyCurrent = false;

    player.on(E.ERROR, (e) => {
      const err = e && e.error ? e.error : e;
      fatal(`dash.js error ${err && err.code !== undefined ? `code=${err.code} ` : ''}${err && err.message ? err.message : JSON.stringify(err)}`);
    });
    player.on(E.PLAYBACK_ERROR, (e) => {
      const err = e && e.error;
      fatal(`dash.js playback error: ${err && err.message ? err.message : err && err.code ? `code ${err.code}` : 'unknown'}`);
    });
    player.on(E.STREAM_INITIALIZED, () => {
      streamReady = true;
    });
    player.on(E.FRAGMENT_LOADING_COMPLETED, (e) => {
      const r = e.request;
      if (!r || r.type !== 'MediaSegment' || !r.representation) return;
      if (e.error) {
        warn(`dash.js fragment load failed: ${r.url} (${e.error.message || e.error.code || 'error'})`);
        return;
      }
      const id = r.representation.id;
      trace(`dash FRAGMENT_LOADING_COMPLETED ${r.mediaType} rep=${id} index=${r.index} start=${fmt(r.startTime)}`);
      if (!loaded.has(id)) loaded.set(id, new Set());
      loaded.get(id).add(r.index);
      sinceForce.set(id, (sinceForce.get(id) || 0) + 1);
    });
    player.on(E.QUALITY_CHANGE_RENDERED, (e) => {
      if (e.mediaType === type && e.newRepresentation) rendered = e.newRepresentation.id;
      trace(`dash QUALITY_CHANGE_RENDERED ${e.mediaType} -> ${e.newRepresentation && e.newRepresentation.id}`);
    });

    player.initialize(video, url, true);

    const indexOfId = (id) => reps.findIndex((r) => r.id === id);
    return {
      ready: () => {
        if (!streamReady) return false;
        reps = player.getRepresentationsByType('video') || [];
        if (reps.length === 0) {
          type = 'audio';
          reps = player.getRepresentationsByType('audio') || [];
        }
        const unfiltered = player.getRepresentationsByTypeUnfiltered
          ? (player.getRepresentationsByTypeUnfiltered(type) || []).length
          : reps.length;
        if (unfiltered !== reps.length) warn(`dash.js filtered ${unfiltered - reps.length} of ${unfiltered} ${type} representations`);
        return reps.length > 0;
      },
      audioInfo: () => {
        // Every audio adaptation set's representations, not only the chosen set's.
        const tracks = player.getTracksFor ? player.getTracksFor('audio') || [] : [];
        const out = [];
        for (const t of tracks) {
          for (const r of t.representations || t.bitrateList || []) {
            out.push({ id: r.id, bitrate: r.bandwidth || r.bitrate || null, channels: t.audioChannelConfiguration && t.audioChannelConfiguration[0] ? Number(t.audioChannelConfiguration[0].value || t.audioChannelConfiguration[0]) : null });
          }
        }
        return out;
      },
      levelInfo: () =>
        reps.map((r) => ({
          id: r.id,
          width: r.width || null,
          height: r.height || null,
          bitrate: r.bandwidth,
          codecs: r.codecs || '',
        })),
      presentationStart: () => {
        try {
          const si = player.getActiveStream && player.getActiveStream().getStreamInfo();
          return si && Number.isFinite(si.start) ? si.start : 0;
        } catch (e) {
          return 0;
        }
      },
      isLive: () => player.isDynamic(),
      disableAbr: () => {
        player.updateSettings({ streaming: { abr: { autoSwitchBitrate: { [type]: false } } } });
      },
      forceLevel: async (i) => {
        const cur = player.getCurrentRepresentationForType(type);
        sinceForce = new Map();
        alreadyCurrent = !!cur && cur.id === reps[i].id;
        // dash.js 5: select by id; forceReplace=true replaces what is buffered
        // ahead of the playhead with segments of the new representation.
        player.setRepresentationForTypeById(type, reps[i].id, true);
      },
      seek: (t) => {
        player.seek(t);
      },
      hasVideo: () => type === 'video',
      fragmentsLoaded: (i) => (loaded.get(reps[i].id) ? loaded.get(reps[i].id).size : 0),
      // if i was already selected nothing is re-fetched: count what was loaded before
      fragmentsSinceForce: (i) =>
        alreadyCurrent ? (loaded.get(reps[i].id) ? loaded.get(reps[i].id).size : 0) : sinceForce.get(reps[i].id) || 0,
      fragmentsExpected: (i) => {
        // Only known up front for SegmentTemplate@duration (number-based); for
        // SegmentTimeline / SegmentBase the buffered-to-end check has to do.
        const cur = (player.getRepresentationsByType(type) || [])[i] || reps[i];
        let d = player.duration();
        if (!Number.isFinite(d) || d <= 0) d = video.duration;
        const sd = cur && (cur.segmentDuration || cur.fragmentDuration);
        if (cur && cur.segmentInfoType === 'SegmentTemplate' && sd > 0 && Number.isFinite(d)) {
          return Math.ceil(d / sd - 0.05);
        }
        return null;
      },
      renderedLevel: () => indexOfId(rendered),
      // the selected representation is i AND the playhead is inside a segment of i
      // (QUALITY_CHANGE_RENDERED)
      isRendering: (i) => {
        const cur = player.getCurrentRepresentationForType(type);
        return !!cur && cur.id === reps[i].id && rendered === reps[i].id;
      },
    };
  }

  window.__mpe = {
    snapshot: () => JSON.parse(JSON.stringify({ ...state, current_time: fmt(video.currentTime) })),
    stop: () => {
      stopped = true;
    },
    run: async (opts) => {
      try {
        const p = opts.kind === 'hls' ? hlsAdapter(opts.url, opts) : dashAdapter(opts.url, opts);
        await drive(opts, p);
      } catch (e) {
        if (e instanceof StepFailed) {
          if (e.message !== 'stopped') error(`${state.phase}: ${e.message}`);
        } else {
          error(`harness exception in ${state.phase}: ${e && e.stack ? e.stack : e}`);
        }
      }
      try {
        video.pause();
      } catch (e) {
        /* ignore */
      }
      return window.__mpe.snapshot();
    },
  };
})();
