#!/usr/bin/env node
// bench/player.mjs: play an HLS stream with hls.js in headless Chromium and
// measure the wall-clock latency of what is on screen.
//
//   node bench/player.mjs --url http://127.0.0.1:PORT/live/cam/index.m3u8
//        [--page-origin http://127.0.0.1:PORT2] [--seconds 30]
//        [--low-latency on|off] [--seek-to-live on|off] [--warmup 5]
//        [--hls-config '{"k": v}'] [--json out.json] [--screenshot f.png]
//        [--chromium /usr/bin/chromium] [--quiet]
//
// --low-latency sets hls.js lowLatencyMode (default on); --hls-config adds
// any other hls.js option (e.g. '{"liveSyncDuration": 0.4}').
// --seek-to-live on: after start-up, the page jumps once (within what is
// buffered) to hls.liveSyncPosition when more than 0.25 s behind hls.js's
// target latency (at most once per 10 s) -- see bench/README.md for why.
// --screenshot saves the video at the end with the time it was taken: the
// fake camera burns its wall clock into the picture (glass-to-glass check).
//
// A tiny HTTP server on the page origin (127.0.0.1 only; port 0 or no
// --page-origin picks a free port) serves the player page and hls.min.js
// from node_modules.  The page origin must differ from the stream's, so
// every playlist and segment request is cross-origin: playback proves the
// CORS headers too.
//
// Every 250 ms the page records latency = Date.now() - hls.playingDate (the
// wall clock of the playing position, from EXT-X-PROGRAM-DATE-TIME), the
// video's currentTime, buffered ranges, playbackRate, and hls.js's own
// latency / targetLatency estimates.  hls.js ERROR events (fatal or not) and
// video 'waiting' events after the first 'playing' (stalls) are recorded.
//
// Prints one JSON summary on stdout (and writes it, with every sample, to
// --json).  Latency statistics skip the first --warmup seconds after
// playback started; "latency_all" covers every playing sample.
//
// Exit code: 0 when it played (the video played more than seconds/2 of
// media and hls.js reported no fatal error), 1 when it did not, 2 on a usage
// error.  The run is bounded: a hard deadline of seconds + 60 s closes the
// browser (the only process this script starts) and exits 1.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const HLS_JS = path.join(ROOT, 'node_modules', 'hls.js', 'dist', 'hls.min.js');
const SAMPLE_MS = 250;

function usage(msg) {
    if (msg) process.stderr.write(`player.mjs: ${msg}\n`);
    process.stderr.write(
        'usage: node bench/player.mjs --url URL [--page-origin http://127.0.0.1:PORT]\n' +
        '       [--seconds 30] [--low-latency on|off] [--seek-to-live on|off] [--warmup 5]\n' +
        '       [--hls-config JSON] [--json FILE] [--screenshot FILE.png]\n' +
        '       [--chromium PATH] [--quiet]\n');
    process.exit(2);
}

function parseArgs(argv) {
    const a = {
        url: null, pageOrigin: 'http://127.0.0.1:0', seconds: 30,
        lowLatency: true, warmup: 5, seekToLive: false, screenshot: null, hlsConfig: {}, json: null,
        chromium: process.env.CHROMIUM || '/usr/bin/chromium', quiet: false,
    };
    for (let i = 2; i < argv.length; i++) {
        const k = argv[i];
        const v = () => {
            if (i + 1 >= argv.length) usage(`${k} needs a value`);
            return argv[++i];
        };
        switch (k) {
        case '--url': a.url = v(); break;
        case '--page-origin': a.pageOrigin = v(); break;
        case '--seconds': a.seconds = Number(v()); break;
        case '--warmup': a.warmup = Number(v()); break;
        case '--low-latency': {
            const x = v();
            if (x !== 'on' && x !== 'off') usage('--low-latency is on or off');
            a.lowLatency = x === 'on';
            break;
        }
        case '--hls-config':
            try { a.hlsConfig = JSON.parse(v()); } catch (e) { usage(`--hls-config: ${e.message}`); }
            break;
        case '--seek-to-live': {
            const x = v();
            if (x !== 'on' && x !== 'off') usage('--seek-to-live is on or off');
            a.seekToLive = x === 'on';
            break;
        }
        case '--json': a.json = v(); break;
        case '--screenshot': a.screenshot = v(); break;
        case '--chromium': a.chromium = v(); break;
        case '--quiet': a.quiet = true; break;
        case '-h': case '--help': usage(); break;
        default: usage(`unknown argument ${k}`);
        }
    }
    if (!a.url) usage('--url is required');
    if (!(a.seconds > 0 && a.seconds <= 3600)) usage('--seconds must be in (0, 3600]');
    if (!(a.warmup >= 0)) usage('--warmup must be >= 0');
    return a;
}

const args = parseArgs(process.argv);
const log = (m) => { if (!args.quiet) process.stderr.write(`player.mjs: ${m}\n`); };

let streamUrl, pageOrigin;
try {
    streamUrl = new URL(args.url);
    pageOrigin = new URL(args.pageOrigin);
} catch (e) {
    usage(e.message);
}
if (pageOrigin.hostname !== '127.0.0.1' && pageOrigin.hostname !== 'localhost') {
    usage('--page-origin must be on 127.0.0.1');
}
if (!fs.existsSync(HLS_JS)) {
    usage(`${HLS_JS} is missing: run npm install (or npm ci) at the repo root`);
}

// ---------------------------------------------------------------- the page

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>bar_hls bench player</title></head>
<body style="margin:0;background:#000">
<video id="v" muted autoplay playsinline style="width:640px"></video>
<script src="/hls.min.js"></script>
<script>
(function () {
    const q = new URLSearchParams(location.search);
    const url = q.get('src');
    const cfg = JSON.parse(q.get('cfg') || '{}');
    const seekToLive = q.get('seek') === '1';
    const video = document.getElementById('v');
    const B = window.__bench = {
        t0: performance.now(), epoch0: Date.now(), hlsVersion: null,
        samples: [], errors: [], stalls: [], events: [],
        firstPlayingAt: null, waitingSince: null, supported: false,
        config: null, levels: null, done: false
    };
    const rel = () => (performance.now() - B.t0) / 1000;
    function ranges(r) {
        const out = [];
        for (let i = 0; i < r.length; i++) out.push([r.start(i), r.end(i)]);
        return out;
    }
    function note(ev, extra) {
        if (B.events.length < 200) B.events.push(Object.assign({ t: rel(), ev: ev }, extra || {}));
    }
    if (!window.Hls || !Hls.isSupported()) { note('unsupported'); return; }
    B.supported = true;
    B.hlsVersion = Hls.version;
    const hls = window.__hls = new Hls(cfg);
    B.config = {
        lowLatencyMode: hls.config.lowLatencyMode,
        liveSyncDurationCount: hls.config.liveSyncDurationCount,
        liveSyncDuration: hls.config.liveSyncDuration === undefined ? null : hls.config.liveSyncDuration,
        liveMaxLatencyDurationCount: hls.config.liveMaxLatencyDurationCount,
        maxLiveSyncPlaybackRate: hls.config.maxLiveSyncPlaybackRate,
        liveSyncOnStallIncrease: hls.config.liveSyncOnStallIncrease,
        backBufferLength: hls.config.backBufferLength,
        user: cfg
    };
    hls.on(Hls.Events.ERROR, function (e, d) {
        if (B.errors.length < 500) {
            B.errors.push({ t: rel(), fatal: !!d.fatal, type: d.type, details: d.details,
                            url: (d.frag && d.frag.url) || (d.context && d.context.url) || null,
                            code: d.response && d.response.code,
                            reason: d.reason || (d.error && String(d.error.message || d.error)) || null });
        }
    });
    // a start-up timeline: the first fragment / part loads and seeks
    let fragNotes = 0;
    hls.on(Hls.Events.FRAG_LOADED, function (e, d) {
        if (fragNotes++ >= 25) return;
        const f = d.frag, p = d.part, st = (p || f).stats;
        note('frag_loaded', { sn: f.sn, part: p ? p.index : null, start: +(p || f).start.toFixed(3),
                              dur: +(p || f).duration.toFixed(3),
                              independent: p ? !!p.independent : null,
                              loadMs: Math.round(st.loading.end - st.loading.start),
                              ttfbMs: Math.round(st.loading.first - st.loading.start),
                              edge: hls.latestLevelDetails ? +hls.latestLevelDetails.edge.toFixed(3) : null,
                              ct: +video.currentTime.toFixed(3) });
    });
    video.addEventListener('seeking', function () { note('seeking', { ct: +video.currentTime.toFixed(3) }); });
    video.addEventListener('loadeddata', function () {
        note('loadeddata', { ct: +video.currentTime.toFixed(3), buffered: ranges(video.buffered) });
    });
    hls.on(Hls.Events.MANIFEST_PARSED, function (e, d) {
        note('manifest_parsed', { levels: d.levels.length });
    });
    hls.on(Hls.Events.LEVEL_LOADED, function (e, d) {
        if (!B.levels) {
            const det = d.details;
            note('level_loaded', { edge: +det.edge.toFixed(3), liveSync: hls.liveSyncPosition,
                                   target: hls.targetLatency });
            B.levels = { live: det.live, targetduration: det.targetduration,
                         partTarget: det.partTarget || null, partHoldBack: det.partHoldBack || null,
                         holdBack: det.holdBack || null, canBlockReload: !!det.canBlockReload,
                         fragments: det.fragments.length };
        }
    });
    video.addEventListener('playing', function () {
        if (B.firstPlayingAt === null) { B.firstPlayingAt = rel(); note('first_playing'); }
        if (B.waitingSince !== null) {
            B.stalls.push({ t: B.waitingSince, duration: rel() - B.waitingSince });
            B.waitingSince = null;
        }
    });
    video.addEventListener('waiting', function () {
        // the wait before the first frame is start-up, and the one right
        // after a seek is the seek: neither is a stall
        if (video.seeking) { B.seekWaits = (B.seekWaits || 0) + 1; return; }
        if (B.firstPlayingAt !== null && B.waitingSince === null) B.waitingSince = rel();
    });
    video.addEventListener('error', function () {
        const err = video.error;
        B.errors.push({ t: rel(), fatal: true, type: 'mediaElementError',
                        details: err ? 'code ' + err.code : 'unknown', reason: err && err.message });
    });
    hls.loadSource(url);
    hls.attachMedia(video);
    video.muted = true;
    video.play().catch(function (e) { note('play_rejected', { reason: String(e) }); });
    setInterval(function () {
        // --seek-to-live: hls.js picks its start position from the first
        // playlist, so the start-up time adds to the latency, and it speeds
        // up only while more than 1 s is buffered ahead.  Jump (within the
        // buffer) to hls.liveSyncPosition when over target by > 0.25 s,
        // at most once every 10 s.
        if (seekToLive && B.firstPlayingAt !== null && !video.seeking && B.waitingSince === null) {
            const lsp = hls.liveSyncPosition, tgt = hls.targetLatency;
            const late = hls.latency - (tgt || 0);
            const now = rel();
            if (lsp !== null && tgt !== null && late > 0.25 && now - (B.lastLiveSeek || -1e9) > 10 &&
                now - B.firstPlayingAt > 1) {
                const r = video.buffered;
                let inBuf = false;
                for (let i = 0; i < r.length; i++) if (lsp >= r.start(i) && lsp < r.end(i) - 0.05) inBuf = true;
                if (inBuf && lsp > video.currentTime) {
                    B.lastLiveSeek = now;
                    B.liveSeeks = (B.liveSeeks || 0) + 1;
                    note('seek_to_live', { from: +video.currentTime.toFixed(3), to: +lsp.toFixed(3),
                                           latency: +hls.latency.toFixed(3) });
                    video.currentTime = lsp;
                }
            }
        }
        const pd = hls.playingDate;
        const s = {
            t: rel(), now: Date.now(),
            ct: video.currentTime,
            playing: !video.paused && !video.ended && video.readyState >= 3 && B.waitingSince === null,
            latency: pd ? (Date.now() - pd.getTime()) / 1000 : null,
            hlsLatency: hls.latency || null,
            target: hls.targetLatency,
            rate: video.playbackRate,
            buffered: ranges(video.buffered)
        };
        if (B.samples.length < 20000) B.samples.push(s);
    }, ${SAMPLE_MS});
})();
</script>
</body></html>
`;

function startPageServer(port) {
    return new Promise((resolve, reject) => {
        const js = fs.readFileSync(HLS_JS);
        const srv = http.createServer((req, res) => {
            const u = new URL(req.url, 'http://x');
            if (u.pathname === '/' || u.pathname === '/index.html') {
                res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
                res.end(PAGE);
            } else if (u.pathname === '/hls.min.js') {
                res.writeHead(200, { 'Content-Type': 'application/javascript', 'Cache-Control': 'no-store' });
                res.end(js);
            } else if (u.pathname === '/favicon.ico') {
                res.writeHead(204);
                res.end();
            } else {
                res.writeHead(404, { 'Content-Type': 'text/plain' });
                res.end('not found\n');
            }
        });
        srv.on('error', reject);
        srv.listen(port, '127.0.0.1', () => resolve(srv));
    });
}

// -------------------------------------------------------------- statistics

function quantile(sorted, q) {
    if (!sorted.length) return null;
    const pos = (sorted.length - 1) * q;
    const lo = Math.floor(pos), hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function stats(values) {
    const s = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
    return {
        n: s.length,
        median: r3(quantile(s, 0.5)),
        p90: r3(quantile(s, 0.9)),
        min: r3(s.length ? s[0] : null),
        max: r3(s.length ? s[s.length - 1] : null),
        mean: r3(s.length ? s.reduce((a, b) => a + b, 0) / s.length : null),
    };
}

// -------------------------------------------------------------------- main

// headless Chromium with a fresh profile; playwright-core starts it and
// browser.close() ends it (the only process this script starts)
function launch(userDataDir) {
    return chromium.launchPersistentContext(userDataDir, {
        executablePath: args.chromium,
        headless: true,
        timeout: 30000,
        args: [
            '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run',
            '--disable-quic', '--autoplay-policy=no-user-gesture-required',
            // a hidden page must not be throttled: timers drive the samples
            '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
            '--disable-backgrounding-occluded-windows',
        ],
    });
}

let browser = null;
let server = null;
let finished = false;

async function cleanup() {
    const b = browser;
    browser = null;
    if (b) {
        try { await b.close(); } catch { /* already gone */ }
    }
    if (server) {
        server.closeAllConnections?.();
        server.close();
        server = null;
    }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, async () => {
        log(`${sig}: closing the browser`);
        await cleanup();
        process.exit(1);
    });
}

// hard deadline: nothing here may run for ever
const hardDeadline = setTimeout(async () => {
    if (finished) return;
    process.stderr.write('player.mjs: hard deadline reached, giving up\n');
    await cleanup();
    process.exit(1);
}, (args.seconds + 60) * 1000);
hardDeadline.unref();

async function main() {
    server = await startPageServer(Number(pageOrigin.port || 0));
    const port = server.address().port;
    const origin = `http://127.0.0.1:${port}`;
    if (origin === streamUrl.origin) {
        log('warning: the page and the stream share an origin; CORS is not exercised');
    }

    const cfg = Object.assign({ lowLatencyMode: args.lowLatency }, args.hlsConfig);
    const pageUrl = `${origin}/?src=${encodeURIComponent(streamUrl.href)}&cfg=${encodeURIComponent(JSON.stringify(cfg))}${args.seekToLive ? '&seek=1' : ''}`;

    const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bar-hls-chromium-'));
    log(`chromium ${args.chromium}, page ${origin}, stream ${streamUrl.href}, lowLatencyMode=${args.lowLatency}`);
    let context;
    try {
        context = await launch(userDataDir);
    } catch (e) {
        fs.rmSync(userDataDir, { recursive: true, force: true });
        throw e;
    }
    browser = {
        close: async () => {
            try { await context.close(); } finally {
                fs.rmSync(userDataDir, { recursive: true, force: true });
            }
        },
    };
    const page = context.pages()[0] || await context.newPage();
    const consoleErrors = [];
    page.on('console', (m) => {
        if ((m.type() === 'error' || m.type() === 'warning') && consoleErrors.length < 50) {
            consoleErrors.push(`${m.type()}: ${m.text()}`.slice(0, 300));
        }
    });
    const httpErrors = [];
    page.on('response', (r) => {
        if (r.status() >= 400 && httpErrors.length < 50) httpErrors.push(`${r.status()} ${r.url()}`);
    });
    // a request hls.js cancels itself (a part load overtaken by a seek or
    // a level switch) fails with net::ERR_ABORTED: counted, not an error
    const aborted = [];
    page.on('requestfailed', (r) => {
        const why = (r.failure() && r.failure().errorText) || 'unknown';
        if (/ERR_ABORTED/.test(why)) {
            aborted.push(r.url());
        } else if (httpErrors.length < 50) {
            httpErrors.push(`failed ${r.url()}: ${why}`);
        }
    });
    page.on('pageerror', (e) => consoleErrors.push(`pageerror: ${e.message}`.slice(0, 300)));

    const started = Date.now();
    await page.goto(pageUrl, { waitUntil: 'load', timeout: 15000 });

    // run for --seconds, polling cheaply so an early fatal error is seen
    const endAt = started + args.seconds * 1000;
    let progressAt = started + 5000;
    while (Date.now() < endAt) {
        await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, endAt - Date.now()))));
        // a fatal hls.js error ends the run early: it will not play
        if (await page.evaluate(() => !window.__bench || window.__bench.errors.some((e) => e.fatal))) {
            log('fatal error (or no hls.js): stopping early');
            break;
        }
        if (Date.now() >= progressAt) {
            progressAt += 5000;
            const p = await page.evaluate(() => {
                const s = window.__bench.samples;
                const last = s[s.length - 1];
                return last ? { t: last.t, ct: last.ct, latency: last.latency, rate: last.rate } : null;
            });
            if (p) {
                log(`t=${p.t.toFixed(1)}s currentTime=${p.ct.toFixed(2)} latency=${p.latency === null ? '-' : p.latency.toFixed(3)}s rate=${p.rate}`);
            }
        }
    }

    // --screenshot: the fake camera burns its wall clock into the picture;
    // compare it with the time the screenshot was taken (glass to glass)
    let shot = null;
    if (args.screenshot) {
        const before = Date.now();
        await page.locator('#v').screenshot({ path: args.screenshot, timeout: 5000 });
        const after = Date.now();
        const d = new Date((before + after) / 2);
        const p2 = (n, w = 2) => String(n).padStart(w, '0');
        shot = { file: args.screenshot, taken_ms: Math.round((before + after) / 2), took_ms: after - before,
                 taken_local: `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}.${p2(d.getMilliseconds(), 3)}` };
    }

    const B = await page.evaluate(() => {
        const v = document.getElementById('v');
        const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : null;
        let played = 0;
        for (let i = 0; i < v.played.length; i++) played += v.played.end(i) - v.played.start(i);
        const b = window.__bench;
        b.final = {
            currentTime: v.currentTime, played: played,
            width: v.videoWidth, height: v.videoHeight, readyState: v.readyState,
            paused: v.paused, stillWaiting: b.waitingSince !== null,
            frames: q ? { total: q.totalVideoFrames, dropped: q.droppedVideoFrames } : null
        };
        return b;
    });
    await cleanup();

    const firstPlay = B.firstPlayingAt;
    const playingSamples = B.samples.filter((s) => s.playing && s.latency !== null);
    const steady = playingSamples.filter((s) => firstPlay !== null && s.t >= firstPlay + args.warmup);
    const fatal = B.errors.filter((e) => e.fatal);
    const nonFatal = B.errors.filter((e) => !e.fatal);
    const countBy = (list) => list.reduce((m, e) => { m[e.details] = (m[e.details] || 0) + 1; return m; }, {});
    const stalls = B.stalls.slice();
    if (B.final.stillWaiting && B.waitingSince !== null) {
        stalls.push({ t: B.waitingSince, duration: null, open: true });
    }
    const played = B.final.played;
    const ok = played > args.seconds / 2 && fatal.length === 0;

    const summary = {
        ok,
        url: streamUrl.href,
        page_origin: origin,
        seconds: args.seconds,
        warmup: args.warmup,
        low_latency: args.lowLatency,
        seek_to_live: args.seekToLive,
        live_seeks: B.liveSeeks || 0,
        seek_waits: B.seekWaits || 0,
        hls_js: B.hlsVersion,
        hls_config: B.config,
        playlist: B.levels,
        startup_s: firstPlay === null ? null : Math.round(firstPlay * 1000) / 1000,
        samples: B.samples.length,
        playing_samples: playingSamples.length,
        latency: stats(steady.map((s) => s.latency)),
        latency_all: stats(playingSamples.map((s) => s.latency)),
        hls_latency_estimate: stats(steady.map((s) => s.hlsLatency)),
        target_latency: steady.length ? steady[steady.length - 1].target : null,
        playback_rate_above_1_samples: steady.filter((s) => s.rate > 1).length,
        forward_buffer: stats(steady.map((s) => {
            const r = s.buffered.find(([a, b]) => s.ct >= a - 0.1 && s.ct <= b);
            return r ? r[1] - s.ct : 0;
        })),
        played_s: Math.round(played * 1000) / 1000,
        current_time_s: Math.round(B.final.currentTime * 1000) / 1000,
        fatal_errors: fatal.length,
        fatal_details: fatal.slice(0, 10),
        non_fatal_errors: nonFatal.length,
        non_fatal_by_type: countBy(nonFatal),
        stalls: stalls.length,
        stall_seconds: Math.round(stalls.reduce((a, s) => a + (s.duration || 0), 0) * 1000) / 1000,
        stall_details: stalls.slice(0, 20),
        frames_decoded: B.final.frames ? B.final.frames.total : null,
        frames_dropped: B.final.frames ? B.final.frames.dropped : null,
        resolution: B.final.width ? `${B.final.width}x${B.final.height}` : null,
        events: B.events.slice(0, 40),
        screenshot: shot,
        http_errors: httpErrors.slice(0, 20),
        aborted_requests: aborted.length,
        console: consoleErrors.slice(0, 20),
    };

    process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    if (args.json) {
        fs.mkdirSync(path.dirname(path.resolve(args.json)), { recursive: true });
        fs.writeFileSync(args.json, JSON.stringify(Object.assign({}, summary, {
            sample_list: B.samples, errors: B.errors,
        }), null, 1) + '\n');
    }
    finished = true;
    return ok ? 0 : 1;
}

main().then((code) => process.exit(code), async (e) => {
    process.stderr.write(`player.mjs: ${e && e.stack ? e.stack : e}\n`);
    await cleanup();
    process.exit(1);
});
