#!/usr/bin/env node
// bench/players.mjs: play HLS streams with several web players at once in
// headless Chromium, and report how each played.
//
//   node bench/players.mjs --case ID,PLAYER,MODE,URL [--case ...]
//        [--seconds 30] [--warmup 5] [--stagger 0] [--out DIR]
//        [--chromium PATH] [--check-playlists on|off] [--quiet]
//
// PLAYER is hlsjs (hls.js), shaka (Shaka Player), vhs (video.js 8 with its
// HTTP streaming engine) or native (Chromium's own HLS, <video src>).
// MODE is the player's configuration (see MODES below): "default" (no
// option at all), "ll" (the player's low-latency switch on), "classic"
// (low latency off, for players whose default is on) or, for Shaka, "seq"
// (its defaults in sequence mode, the workaround of shaka-player#10589).
//
// Every case plays in its own page (and browser context) of one Chromium,
// all at the same time, each for --seconds after its first frame (a page
// that shows none gives up 20 s later).  --stagger S opens them S seconds
// apart: a page that loads its player while another joins the live edge
// takes the CPU that one needs on a small machine.  The page origin (a
// tiny HTTP server on 127.0.0.1 that serves the page and the players'
// scripts from node_modules) differs from the stream's, so every request
// is CORS.
//
// Per case it records, with times relative to the page start:
//   - every request of the page: URL, status, time of the request, of the
//     response headers and of the end (requests.jsonl in --out/ID/);
//   - every playlist body (playlists.jsonl), which then goes through the
//     playlist checker (t/tools/check-playlist --jsonl), one client per case;
//   - the player's events: errors (fatal or not), and the video element's
//     playing/waiting/seeking/error (events.json);
//   - the frames shown (requestVideoFrameCallback: presentedFrames,
//     mediaTime) and, every 250 ms, currentTime, buffered, playbackRate and
//     the playing frame's wall clock where the player exposes it
//     (EXT-X-PROGRAM-DATE-TIME: hls.js playingDate, Shaka
//     getPlayheadTimeAsDate, VHS convertToProgramTime, native getStartDate).
//
// Prints one JSON object on stdout: {cases: {ID: summary}}; summary has
// first_frame_s, stalls (waiting after the first frame, seeks excluded),
// fatal (the first fatal error), http_errors (4xx/5xx and failed requests
// but the player's own aborts), and over the steady part (from --warmup s
// to --seconds s after the first frame): fps (frames decoded per wall
// second, getVideoPlaybackQuality; fps_presented: the frames
// requestVideoFrameCallback saw), media_rate (the median of currentTime's
// advance per wall second, sample to sample), media_advanced_s, latency
// {median, p90, n} (s behind the wall clock), and playlist_violations
// (the checker's findings).
//
// The run is bounded: a hard deadline of --seconds + 110 s (plus the
// staggering) closes the browser (the only process this script starts,
// with the checker) and exits 1.  Exit code 0 when every case ran
// (whether it played well or not is for the caller to judge), 2 on a
// usage error.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const NM = path.join(ROOT, 'node_modules');
const SAMPLE_MS = 250;
const STARTUP_S = 20;          // the longest start-up waited for

// the players' scripts, served to the page under /lib/NAME
const LIBS = {
    'hls.js': path.join(NM, 'hls.js', 'dist', 'hls.min.js'),
    'shaka.js': path.join(NM, 'shaka-player', 'dist', 'shaka-player.compiled.js'),
    'video.js': path.join(NM, 'video.js', 'dist', 'video.min.js'),
};
const PLAYER_LIB = { hlsjs: 'hls.js', shaka: 'shaka.js', vhs: 'video.js', native: null };

// each player's configuration per mode
const MODES = {
    hlsjs: {
        default: {},                                   // lowLatencyMode is on by default
        ll: { lowLatencyMode: true },
        classic: { lowLatencyMode: false },
    },
    shaka: {
        default: {},                                   // streaming.lowLatencyMode is on by default (5.x)
        ll: { streaming: { lowLatencyMode: true } },
        classic: { streaming: { lowLatencyMode: false } },
        // the workaround of shaka-player#10589 (5.2.12 drops parts that do
        // not start with a key frame when the timestamp offset is negative)
        seq: { manifest: { hls: { sequenceMode: true } } },
    },
    vhs: {
        default: {},                                   // vhs.llhls is on by default
        ll: { html5: { vhs: { llhls: true } } },
        classic: { html5: { vhs: { llhls: false } } },
    },
    native: {
        default: {},
    },
};

function usage(msg) {
    if (msg) process.stderr.write(`players.mjs: ${msg}\n`);
    process.stderr.write(
        'usage: node bench/players.mjs --case ID,PLAYER,MODE,URL [--case ...]\n' +
        '       [--seconds 30] [--warmup 5] [--stagger 0] [--out DIR] [--chromium PATH]\n' +
        '       [--check-playlists on|off] [--quiet]\n' +
        `PLAYER: ${Object.keys(MODES).join(' ')}; MODE: default ll classic seq\n`);
    process.exit(2);
}

function parseArgs(argv) {
    const a = {
        cases: [], seconds: 30, warmup: 5, stagger: 0, out: null, quiet: false, check: true, debug: false,
        chromium: process.env.CHROMIUM || '/usr/bin/chromium',
    };
    for (let i = 2; i < argv.length; i++) {
        const k = argv[i];
        const v = () => {
            if (i + 1 >= argv.length) usage(`${k} needs a value`);
            return argv[++i];
        };
        switch (k) {
        case '--case': {
            const [id, player, mode, ...rest] = v().split(',');
            const url = rest.join(',');
            if (!id || !/^[\w.-]{1,64}$/.test(id)) usage(`bad case id ${id}`);
            if (!MODES[player]) usage(`unknown player ${player}`);
            if (!MODES[player][mode]) usage(`player ${player} has no mode ${mode}`);
            let u;
            try { u = new URL(url); } catch { usage(`bad URL ${url}`); }
            if (u.hostname !== '127.0.0.1') usage('stream URLs are on 127.0.0.1');
            if (a.cases.some((c) => c.id === id)) usage(`case ${id} twice`);
            a.cases.push({ id, player, mode, url: u.href });
            break;
        }
        case '--seconds': a.seconds = Number(v()); break;
        case '--warmup': a.warmup = Number(v()); break;
        case '--stagger': a.stagger = Number(v()); break;
        case '--out': a.out = v(); break;
        case '--chromium': a.chromium = v(); break;
        case '--check-playlists': a.check = v() !== 'off'; break;
        case '--quiet': a.quiet = true; break;
        case '--debug': a.debug = true; break;
        case '-h': case '--help': usage(); break;
        default: usage(`unknown argument ${k}`);
        }
    }
    if (!a.cases.length) usage('at least one --case');
    if (a.cases.length > 16) usage('at most 16 cases at once');
    if (!(a.seconds > 0 && a.seconds <= 600)) usage('--seconds must be in (0, 600]');
    if (!(a.warmup >= 0 && a.warmup < a.seconds)) usage('--warmup must be in [0, seconds)');
    if (!(a.stagger >= 0 && a.stagger <= 30)) usage('--stagger must be in [0, 30]');
    for (const c of a.cases) {
        const lib = PLAYER_LIB[c.player];
        if (lib && !fs.existsSync(LIBS[lib])) usage(`${LIBS[lib]} is missing: run npm ci`);
    }
    return a;
}

const args = parseArgs(process.argv);
const log = (m) => { if (!args.quiet) process.stderr.write(`players.mjs: ${m}\n`); };

// ---------------------------------------------------------------- the page

// One page per case: bench/players-page.html, the player's script put in
// place of its "lib" script element.
const PAGE = fs.readFileSync(path.join(HERE, 'players-page.html'), 'utf8');

function pageFor(lib) {
    // the player's script goes in before the page's own code runs
    return PAGE.replace('<script id="lib"></script>',
                        lib ? `<script src="/lib/${lib}"></script>` : '');
}

function startPageServer() {
    return new Promise((resolve, reject) => {
        const srv = http.createServer((req, res) => {
            const u = new URL(req.url, 'http://127.0.0.1');
            if (u.pathname === '/') {
                const lib = PLAYER_LIB[u.searchParams.get('player')] || null;
                res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
                res.end(pageFor(lib));
                return;
            }
            const m = u.pathname.match(/^\/lib\/([\w.]+)$/);
            if (m && LIBS[m[1]]) {
                fs.readFile(LIBS[m[1]], (err, data) => {
                    if (err) { res.writeHead(500); res.end(); return; }
                    res.writeHead(200, { 'Content-Type': 'application/javascript', 'Cache-Control': 'max-age=3600' });
                    res.end(data);
                });
                return;
            }
            res.writeHead(u.pathname === '/favicon.ico' ? 204 : 404, { 'Content-Type': 'text/plain' });
            res.end();
        });
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve(srv));
    });
}

// -------------------------------------------------------------- statistics

function quantile(sorted, q) {
    if (!sorted.length) return null;
    const pos = (sorted.length - 1) * q;
    const lo = Math.floor(pos), hi = Math.ceil(pos);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

const r3 = (x) => (x === null || x === undefined || !Number.isFinite(x) ? null : Math.round(x * 1000) / 1000);

function stats(values) {
    const s = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
    return { n: s.length, median: r3(quantile(s, 0.5)), p90: r3(quantile(s, 0.9)),
             min: r3(s[0]), max: r3(s[s.length - 1]) };
}

// ------------------------------------------------------ the playlist checker

// Runs t/tools/check-playlist --jsonl over a playlists.jsonl; returns its
// violations ([{client, url, t, rule, message}]) or an error string.
function checkPlaylists(file) {
    return new Promise((resolve) => {
        const tool = path.join(ROOT, 't', 'tools', 'check-playlist');
        if (!fs.existsSync(tool)) { resolve({ error: `no ${tool}` }); return; }
        const ch = spawn('perl', [tool, '--jsonl', file, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '', err = '';
        const timer = setTimeout(() => ch.kill('SIGKILL'), 60000);
        ch.stdout.on('data', (d) => { out += d; });
        ch.stderr.on('data', (d) => { err += d; });
        ch.on('close', (code) => {
            clearTimeout(timer);
            try {
                resolve({ violations: JSON.parse(out || '[]'), code });
            } catch (e) {
                resolve({ error: `check-playlist exit ${code}: ${err.slice(0, 500)} ${out.slice(0, 200)}` });
            }
        });
    });
}

// -------------------------------------------------------------------- main

let context = null;
let browser = null;
let server = null;
let userDataDir = null;
let finished = false;

async function cleanup() {
    const b = browser;
    browser = null;
    if (b) {
        try { await b.close(); } catch { /* already gone */ }
    }
    if (userDataDir) {
        fs.rmSync(userDataDir, { recursive: true, force: true });
        userDataDir = null;
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

const hardDeadline = setTimeout(async () => {
    if (finished) return;
    process.stderr.write('players.mjs: hard deadline reached, giving up\n');
    await cleanup();
    process.exit(1);
}, (args.seconds + STARTUP_S + 90 + args.cases.length * args.stagger) * 1000);
hardDeadline.unref();

function isPlaylist(url) {
    return /\.m3u8$/.test(new URL(url).pathname);
}

// wires the request log of one page
function watch(page, c, t0) {
    const rel = () => (Date.now() - t0) / 1000;
    c.requests = [];
    c.playlists = [];
    c.httpErrors = [];
    c.aborted = 0;
    c.console = [];
    const byReq = new Map();
    page.on('request', (r) => {
        if (r.url().startsWith(c.pageOrigin)) return;
        const e = { t: r3(rel()), method: r.method(), url: r.url(), status: null, t_headers: null, t_end: null };
        const h = r.headers();
        if (h.range) e.range = h.range;
        if (h['if-range']) e.if_range = h['if-range'];
        byReq.set(r, e);
        if (c.requests.length < 20000) c.requests.push(e);
    });
    page.on('response', (r) => {
        const e = byReq.get(r.request());
        if (!e) return;
        e.status = r.status();
        e.t_headers = r3(rel());
        if (r.status() >= 400 && c.httpErrors.length < 100) {
            c.httpErrors.push({ t: e.t_headers, status: r.status(), url: r.url(), sent: e.t });
        }
    });
    page.on('requestfinished', async (r) => {
        const e = byReq.get(r);
        if (!e) return;
        e.t_end = r3(rel());
        byReq.delete(r);
        if (isPlaylist(r.url())) {
            let body = null;
            try {
                const resp = await r.response();
                body = resp ? await resp.text() : null;
            } catch { body = null; }
            c.playlists.push({ client: c.id, url: r.url(), t: e.t_end, sent: e.t, status: e.status, body });
        }
    });
    page.on('requestfailed', (r) => {
        const e = byReq.get(r);
        const why = (r.failure() && r.failure().errorText) || 'unknown';
        if (e) { e.failed = why; e.t_end = r3(rel()); byReq.delete(r); }
        if (/ERR_ABORTED/.test(why)) {
            c.aborted++;
        } else if (c.httpErrors.length < 100) {
            c.httpErrors.push({ t: r3(rel()), status: null, failed: why, url: r.url(), sent: e ? e.t : null });
        }
    });
    page.on('console', (m) => {
        if (c.console.length < (args.debug ? 50000 : 300)) c.console.push(`${r3(rel())} ${m.type()}: ${m.text()}`.slice(0, args.debug ? 2000 : 400));
    });
    page.on('pageerror', (e) => {
        if (c.console.length < 300) c.console.push(`${r3(rel())} pageerror: ${e.message}`.slice(0, 400));
    });
}

function firstOfEach(list) {
    const seen = new Set();
    return list.filter((v) => !seen.has(v.rule) && seen.add(v.rule));
}

function summarize(c, P) {
    const firstFrame = P.firstFrameAt;
    // the steady part: from --warmup s after the first frame to --seconds
    // after it
    const steadyFrom = firstFrame === null ? null : firstFrame + args.warmup;
    const steadyTo = firstFrame === null ? null : firstFrame + args.seconds;
    const inWindow = (t) => steadyFrom !== null && t >= steadyFrom && t <= steadyTo;
    const frames = P.frames.filter((f) => inWindow(f[0]));
    const win = P.samples.filter((s) => inWindow(s.t));
    let fps = null, fpsPresented = null, mediaRate = null, frameGapMax = null, dropped = null;
    if (win.length >= 2) {
        const a = win[0], b = win[win.length - 1];
        const dt = b.t - a.t;
        if (dt > 0 && a.decoded !== null && b.decoded !== null) {
            fps = (b.decoded - a.decoded) / dt;
            dropped = b.dropped - a.dropped;
        }
        // the median of the sample-to-sample rates: a seek (a jump) does
        // not count as playing fast
        const rates = [];
        for (let i = 1; i < win.length; i++) {
            const d = win[i].t - win[i - 1].t;
            if (d > 0) rates.push((win[i].ct - win[i - 1].ct) / d);
        }
        rates.sort((x, y) => x - y);
        mediaRate = rates.length ? quantile(rates, 0.5) : null;
    }
    if (frames.length >= 2) {
        const a = frames[0], b = frames[frames.length - 1];
        if (b[0] > a[0]) fpsPresented = (b[1] - a[1]) / (b[0] - a[0]);
        for (let i = 1; i < frames.length; i++) {
            const g = frames[i][0] - frames[i - 1][0];
            if (frameGapMax === null || g > frameGapMax) frameGapMax = g;
        }
    }
    const advanced = win.length >= 2 ? win[win.length - 1].ct - win[0].ct : 0;
    // stalls up to --seconds after the first frame (the page goes on
    // playing while the others finish)
    const stalls = P.stalls.filter((x) => steadyTo === null || x.t <= steadyTo);
    if (P.waitingSince !== null && (steadyTo === null || P.waitingSince <= steadyTo)) {
        stalls.push({ t: P.waitingSince, duration: null, open: true });
    }
    const fatal = P.errors.filter((e) => e.fatal);
    const nonFatal = P.errors.filter((e) => !e.fatal);
    const steadySamples = win.filter((s) => s.playing);
    // HTTP errors after the first frame ("during play") and before it
    const httpDuring = c.httpErrors.filter((e) => firstFrame !== null && e.t >= firstFrame);
    const byStatus = {};
    for (const r of c.requests) {
        const k = r.failed ? `failed:${r.failed}` : String(r.status);
        byStatus[k] = (byStatus[k] || 0) + 1;
    }
    return {
        player: c.player, mode: c.mode, url: c.url, version: P.version, config: P.cfg,
        first_frame_s: r3(firstFrame),
        first_playing_s: r3(P.firstPlayingAt),
        fps: r3(fps),
        fps_presented: r3(fpsPresented),
        frames_dropped: dropped,
        media_rate: r3(mediaRate),
        frame_gap_max_s: r3(frameGapMax),
        steady_s: win.length >= 2 ? r3(win[win.length - 1].t - win[0].t) : 0,
        media_advanced_s: r3(advanced),
        stalls: stalls.length,
        stall_seconds: r3(stalls.reduce((s, x) => s + (x.duration || 0), 0)),
        stall_list: stalls.slice(0, 30).map((s) => ({ t: r3(s.t), duration: r3(s.duration), open: !!s.open })),
        seek_waits: P.seekWaits,
        fatal: fatal.length ? fatal[0] : null,
        fatal_count: fatal.length,
        errors_nonfatal: nonFatal.length,
        errors_nonfatal_kinds: nonFatal.reduce((m, e) => {
            const k = `${e.source}:${e.details || e.code || e.message}`.slice(0, 120);
            m[k] = (m[k] || 0) + 1;
            return m;
        }, {}),
        http_errors: c.httpErrors.slice(0, 30),
        http_errors_count: c.httpErrors.length,
        http_errors_during_play: httpDuring.length,
        requests: c.requests.length,
        requests_by_status: byStatus,
        aborted_requests: c.aborted,
        latency: stats(steadySamples.map((s) => s.latency)),
        playlist_count: c.playlists.length,
        // the first of each rule (the full list is in --out DIR), and counts
        playlist_violations: firstOfEach(c.violations || []),
        playlist_violation_counts: (c.violations || []).reduce((m, v) => {
            m[v.rule] = (m[v.rule] || 0) + 1;
            return m;
        }, {}),
        playlist_check_error: c.checkError || null,
        final_current_time: P.samples.length ? P.samples[P.samples.length - 1].ct : null,
    };
}

async function main() {
    server = await startPageServer();
    const origin = `http://127.0.0.1:${server.address().port}`;
    userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bar-hls-players-'));
    log(`chromium ${args.chromium}, page origin ${origin}, ${args.cases.length} case(s), ${args.seconds}s`);
    const b = await chromium.launch({
        executablePath: args.chromium,
        headless: true,
        timeout: 30000,
        args: [
            '--no-sandbox', '--disable-gpu', '--disable-background-networking',
            '--disable-component-update', '--disable-sync', '--no-first-run',
            '--disable-quic', '--autoplay-policy=no-user-gesture-required',
            '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
            '--disable-backgrounding-occluded-windows',
        ],
    });
    browser = b;

    const t0 = Date.now();
    const pages = [];
    for (const c of args.cases) {
        c.pageOrigin = origin;
        const ctx = await b.newContext({ viewport: { width: 660, height: 380 } });
        const page = await ctx.newPage();
        pages.push({ c, page, ctx });
    }
    // the pages start together, or --stagger s apart, and each plays for
    // --seconds from its first frame
    await Promise.all(pages.map(async (p, i) => {
        const { c, page } = p;
        const startAt = t0 + i * args.stagger * 1000;
        await new Promise((r) => setTimeout(r, Math.max(0, startAt - Date.now())));
        p.pt0 = Date.now();
        watch(page, c, p.pt0);
        const cfg = MODES[c.player][c.mode];
        const url = `${origin}/?player=${c.player}&mode=${c.mode}&sample_ms=${SAMPLE_MS}&src=${encodeURIComponent(c.url)}`
                  + `&cfg=${encodeURIComponent(JSON.stringify(cfg))}${args.debug ? '&debug=1' : ''}`;
        return page.goto(url, { waitUntil: 'load', timeout: 20000 });
    }));

    // each page plays --seconds after its first frame; one that shows none
    // gives up --seconds + STARTUP_S after its start
    const ends = new Map(pages.map((p) => [p, p.pt0 + (args.seconds + STARTUP_S) * 1000]));
    let progressAt = t0 + 10000;
    for (let guard = 0; guard < 10000; guard++) {
        const endAt = Math.max(...ends.values());
        if (Date.now() >= endAt) break;
        await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(0, endAt - Date.now()))));
        for (const p of pages) {
            const ff = await p.page.evaluate(() => window.__P && window.__P.firstFrameAt).catch(() => null);
            if (typeof ff === 'number') ends.set(p, p.pt0 + (ff + args.seconds + 3) * 1000);
        }
        if (Date.now() >= progressAt) {
            progressAt += 10000;
            for (const { c, page } of pages) {
                const p = await page.evaluate(() => {
                    const P = window.__P;
                    const s = P.samples[P.samples.length - 1];
                    return { ct: s ? s.ct : null, lat: s ? s.latency : null, stalls: P.stalls.length,
                             fatal: P.errors.filter((e) => e.fatal).length,
                             frames: P.frames.length ? P.frames[P.frames.length - 1][1] : 0 };
                }).catch(() => null);
                if (p) log(`${c.id}: ct=${p.ct} frames=${p.frames} latency=${p.lat === null ? '-' : p.lat.toFixed(2)} stalls=${p.stalls} fatal=${p.fatal} http_errors=${c.httpErrors.length}`);
            }
        }
    }

    const result = { seconds: args.seconds, warmup: args.warmup, cases: {} };
    for (const { c, page } of pages) {
        const P = await page.evaluate(() => {
            const P = window.__P;
            return { version: P.version, cfg: P.cfg, events: P.events, errors: P.errors, samples: P.samples,
                     frames: P.frames, firstFrameAt: P.firstFrameAt, firstPlayingAt: P.firstPlayingAt,
                     waitingSince: P.waitingSince, stalls: P.stalls, seekWaits: P.seekWaits };
        }).catch((e) => ({ version: null, cfg: null, events: [], errors: [{ fatal: true, source: 'harness', message: String(e) }],
                            samples: [], frames: [], firstFrameAt: null, firstPlayingAt: null, waitingSince: null,
                            stalls: [], seekWaits: 0 }));
        c.P = P;
    }
    await cleanup();

    for (const { c } of pages) {
        let dir = null;
        if (args.out) {
            dir = path.join(args.out, c.id);
            fs.mkdirSync(dir, { recursive: true });
            fs.writeFileSync(path.join(dir, 'requests.jsonl'), c.requests.map((r) => JSON.stringify(r)).join('\n') + '\n');
            fs.writeFileSync(path.join(dir, 'events.json'), JSON.stringify({ events: c.P.events, errors: c.P.errors, stalls: c.P.stalls, console: c.console }, null, 1) + '\n');
            fs.writeFileSync(path.join(dir, 'samples.json'), JSON.stringify({ samples: c.P.samples, frames: c.P.frames }) + '\n');
        }
        if (args.check && c.playlists.length) {
            const file = path.join(dir || userDataDirFallback(), `playlists-${c.id}.jsonl`);
            c.playlists.sort((a, b) => a.t - b.t);
            fs.writeFileSync(file, c.playlists.map((p) => JSON.stringify(p)).join('\n') + '\n');
            const r = await checkPlaylists(file);
            if (r.error) c.checkError = r.error;
            else c.violations = r.violations;
            if (dir && c.violations) {
                fs.writeFileSync(path.join(dir, 'violations.json'), JSON.stringify(c.violations, null, 1) + '\n');
            }
            if (!dir) fs.rmSync(file, { force: true });
        }
        result.cases[c.id] = summarize(c, c.P);
        if (dir) fs.writeFileSync(path.join(dir, 'summary.json'), JSON.stringify(result.cases[c.id], null, 1) + '\n');
    }
    // a pipe takes 64 KiB at once: exit only once all of it is written
    await new Promise((resolve) => process.stdout.write(JSON.stringify(result, null, 1) + '\n', resolve));
    finished = true;
    return 0;
}

let fallbackDir = null;
function userDataDirFallback() {
    fallbackDir = fallbackDir || fs.mkdtempSync(path.join(os.tmpdir(), 'bar-hls-players-check-'));
    return fallbackDir;
}

main().then((code) => {
    if (fallbackDir) fs.rmSync(fallbackDir, { recursive: true, force: true });
    process.exit(code);
}, async (e) => {
    process.stderr.write(`players.mjs: ${e && e.stack ? e.stack : e}\n`);
    await cleanup();
    process.exit(1);
});
