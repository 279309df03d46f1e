#!/usr/bin/env node
// t/lib/sound.mjs: play an HLS stream in headless Chromium, through hls.js
// or natively (the <video> element's own HLS), and listen to it.
//
//   node t/lib/sound.mjs --url URL [--engine hlsjs|native] [--seconds 12]
//        [--chromium /usr/bin/chromium]
//
// The video element feeds a Web Audio AnalyserNode (the page is on another
// origin: crossOrigin="anonymous" needs the stream's CORS headers): every
// 100 ms while the video plays, the page takes the RMS level of the last
// 2048 samples, in dBFS.
// Prints one JSON object: the engine, whether it played, the media time
// played, the decoded audio and video bytes Chromium counts
// (webkitAudioDecodedByteCount, webkitVideoDecodedByteCount), the video
// size, the levels heard (median and maximum of the loud samples: above
// -40 dBFS) and every error (hls.js ERROR events, the element's error).
//
// Exit code 0 when it played (media time advanced by more than a third of
// --seconds without a fatal error), 1 otherwise, 2 on a usage error.  A
// hard deadline of --seconds + 60 s closes the browser, the one process
// this script starts.

import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const HLS_JS = path.join(HERE, '..', '..', 'node_modules', 'hls.js', 'dist',
                         'hls.min.js');

const a = { engine: 'hlsjs', seconds: 12, chromium: '/usr/bin/chromium' };
for (let i = 2; i < process.argv.length; i += 2) {
    const k = process.argv[i], v = process.argv[i + 1];
    if (v === undefined) { console.error(`sound.mjs: ${k} needs a value`); process.exit(2); }
    if (k === '--url') a.url = v;
    else if (k === '--engine') a.engine = v;
    else if (k === '--seconds') a.seconds = Number(v);
    else if (k === '--chromium') a.chromium = v;
    else { console.error(`sound.mjs: unknown ${k}`); process.exit(2); }
}
if (!a.url || !['hlsjs', 'native'].includes(a.engine)
    || !(a.seconds > 0 && a.seconds <= 600)) {
    console.error('usage: sound.mjs --url URL [--engine hlsjs|native] [--seconds N]');
    process.exit(2);
}

const PAGE = `<!doctype html><html><head><meta charset="utf-8"></head><body>
<video id="v" autoplay playsinline crossorigin="anonymous"></video>
<script src="/hls.min.js"></script>
<script>
(function () {
    const q = new URLSearchParams(location.search);
    const video = document.getElementById('v');
    const S = window.__sound = { levels: [], errors: [], playing: false,
                                 native: video.canPlayType('application/vnd.apple.mpegurl') };
    video.addEventListener('error', function () {
        const e = video.error;
        S.errors.push({ fatal: true, type: 'media', details: e ? 'code ' + e.code + ' ' + e.message : '?' });
    });
    video.addEventListener('playing', function () { S.playing = true; });
    if (q.get('engine') === 'native') {
        video.src = q.get('src');
    } else {
        const hls = new Hls({ lowLatencyMode: true });
        hls.on(Hls.Events.ERROR, function (ev, d) {
            if (S.errors.length < 100)
                S.errors.push({ fatal: !!d.fatal, type: d.type, details: d.details });
        });
        hls.loadSource(q.get('src'));
        hls.attachMedia(video);
    }
    const ctx = new AudioContext();
    const an = ctx.createAnalyser();
    an.fftSize = 2048;
    ctx.createMediaElementSource(video).connect(an);
    an.connect(ctx.destination);
    const buf = new Float32Array(an.fftSize);
    video.play().catch(function (e) { S.errors.push({ fatal: false, type: 'play', details: String(e) }); });
    setInterval(function () {
        if (ctx.state !== 'running') ctx.resume();
        // while it plays: the start-up is silent
        if (S.playing && !video.paused && video.currentTime > (S.ct || 0)) {
            an.getFloatTimeDomainData(buf);
            let sum = 0;
            for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
            S.levels.push(10 * Math.log10(sum / buf.length + 1e-12));
        }
        S.ct = video.currentTime;
        S.size = video.videoWidth + 'x' + video.videoHeight;
        S.audioBytes = video.webkitAudioDecodedByteCount;
        S.videoBytes = video.webkitVideoDecodedByteCount;
    }, 100);
})();
</script></body></html>`;

const js = fs.existsSync(HLS_JS) ? fs.readFileSync(HLS_JS) : '';
const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(PAGE);
    } else if (u.pathname === '/hls.min.js') {
        res.writeHead(200, { 'Content-Type': 'application/javascript' });
        res.end(js);
    } else {
        res.writeHead(404);
        res.end();
    }
});
await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));

const deadline = setTimeout(() => { console.log(JSON.stringify({ ok: false, error: 'deadline' })); process.exit(1); },
                            (a.seconds + 60) * 1000);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bar-hls-sound-'));
let out = { engine: a.engine, ok: false };
let browser;
try {
    browser = await chromium.launchPersistentContext(dir, {
        executablePath: a.chromium, headless: true, timeout: 30000,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
               '--disable-component-update', '--disable-sync', '--no-first-run',
               '--autoplay-policy=no-user-gesture-required',
               '--disable-background-timer-throttling', '--disable-renderer-backgrounding'],
    });
    const page = browser.pages()[0] || await browser.newPage();
    const origin = `http://127.0.0.1:${srv.address().port}`;
    await page.goto(`${origin}/?engine=${a.engine}&src=${encodeURIComponent(a.url)}`);
    await page.waitForTimeout(a.seconds * 1000);
    const s = await page.evaluate(() => window.__sound);
    const loud = s.levels.filter((x) => x > -40).sort((x, y) => x - y);
    const r1 = (x) => Math.round(x * 10) / 10;
    out = {
        engine: a.engine, native_support: s.native, playing: s.playing,
        played_s: r1(s.ct || 0), size: s.size,
        audio_bytes: s.audioBytes || 0, video_bytes: s.videoBytes || 0,
        loud_samples: loud.length, samples: s.levels.length,
        level_median: loud.length ? r1(loud[Math.floor(loud.length / 2)]) : null,
        level_max: loud.length ? r1(loud[loud.length - 1]) : null,
        errors: s.errors,
    };
    out.ok = out.played_s > a.seconds / 3 && !s.errors.some((e) => e.fatal);
} catch (e) {
    out.error = String(e);
} finally {
    if (browser) await browser.close();
    srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
    clearTimeout(deadline);
}
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
