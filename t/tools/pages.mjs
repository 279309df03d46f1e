#!/usr/bin/env node
// t/tools/pages.mjs: opens the module's pages (bar_hls_page) in headless
// Chromium at a phone's viewport and says what a person would see.
//
//   node t/tools/pages.mjs overview --url http://127.0.0.1:PORT/live/
//        [--seconds 20] [--offline NAME,...] [--screenshot FILE.png]
//   node t/tools/pages.mjs player --url http://127.0.0.1:PORT/live/ale/
//        [--seconds 20] [--screenshot FILE.png]
//
// overview: waits (at most --seconds) until every camera's card has a
// picture that was refreshed at least twice, and the cameras named by
// --offline say they are offline; then reports each card: its state, its
// label, whether its picture shows, how often it was refreshed, and how
// varied its pixels are (a canvas of the image: 0 is a blank picture).
// player: waits until the video plays, its frames advance and the page
// says how far behind the camera it is; reports the engine (native or
// hls.js), the frames decoded, the time played, the latency shown.
//
// Prints one JSON object on stdout; exit code 0 when the wait succeeded,
// 1 when it did not, 2 on a usage error.  Every request the page makes is
// recorded, with those that were not to the page's own origin (none
// should be: no fonts, no trackers).  A hard deadline of --seconds + 60 s
// closes the browser, the only process this script starts.

import { chromium } from 'playwright-core';

const PHONE = {
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 '
        + '(KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36',
};

function usage(msg) {
    if (msg) process.stderr.write(`pages.mjs: ${msg}\n`);
    process.stderr.write('usage: node t/tools/pages.mjs overview|player --url URL '
        + '[--seconds N] [--offline A,B] [--screenshot FILE] [--chromium PATH]\n');
    process.exit(2);
}

const a = { mode: process.argv[2], url: null, seconds: 20, offline: [], screenshot: null,
            chromium: process.env.CHROMIUM || '/usr/bin/chromium' };
for (let i = 3; i < process.argv.length; i++) {
    const k = process.argv[i];
    const v = () => (i + 1 < process.argv.length ? process.argv[++i] : usage(`${k} needs a value`));
    switch (k) {
    case '--url': a.url = v(); break;
    case '--seconds': a.seconds = Number(v()); break;
    case '--offline': a.offline = v().split(',').filter(Boolean); break;
    case '--screenshot': a.screenshot = v(); break;
    case '--chromium': a.chromium = v(); break;
    default: usage(`unknown argument ${k}`);
    }
}
if (a.mode !== 'overview' && a.mode !== 'player') usage('overview or player');
if (!a.url) usage('--url is required');
if (!(a.seconds > 0 && a.seconds <= 600)) usage('--seconds in (0, 600]');

const origin = new URL(a.url).origin;
let browser = null;

const deadline = setTimeout(async () => {
    process.stderr.write('pages.mjs: hard deadline, closing the browser\n');
    if (browser) await browser.close().catch(() => {});
    process.exit(1);
}, (a.seconds + 60) * 1000);

async function overview(page) {
    const t0 = Date.now();
    let cards = [];
    let ok = false;
    while (Date.now() - t0 < a.seconds * 1000) {
        cards = await page.evaluate(() => [...document.querySelectorAll('.cam')].map((c) => {
            const img = c.querySelector('img');
            let spread = null;
            if (img.complete && img.naturalWidth > 0 && c.dataset.pic === '1') {
                const cv = document.createElement('canvas');
                cv.width = 64;
                cv.height = 36;
                const g = cv.getContext('2d');
                g.drawImage(img, 0, 0, 64, 36);
                const d = g.getImageData(0, 0, 64, 36).data;
                let s = 0, s2 = 0, n = 0;
                for (let i = 0; i < d.length; i += 4) {
                    const y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
                    s += y; s2 += y * y; n++;
                }
                spread = Math.round(s2 / n - (s / n) * (s / n));
            }
            return {
                name: c.dataset.cam, live: c.dataset.live, pic: c.dataset.pic,
                pictures: Number(c.dataset.pictures || 0), etag: c.dataset.etag || '',
                label: c.querySelector('.state').textContent,
                href: c.getAttribute('href'), width: img.naturalWidth,
                shown: img.getBoundingClientRect().width, spread,
            };
        }));
        const offline = cards.filter((c) => a.offline.includes(c.name));
        const online = cards.filter((c) => !a.offline.includes(c.name));
        ok = cards.length > 0
            && online.every((c) => c.live === '1' && c.pictures >= 2 && c.spread > 50)
            && offline.every((c) => c.live === '0' && /^offline since /.test(c.label));
        if (ok) break;
        await page.waitForTimeout(500);
    }
    const note = await page.evaluate(() => document.getElementById('note').textContent);
    return { ok, cards, note, waited_s: (Date.now() - t0) / 1000 };
}

async function player(page) {
    const t0 = Date.now();
    let s = {};
    let first = null;
    let ok = false;
    while (Date.now() - t0 < a.seconds * 1000) {
        s = await page.evaluate(() => {
            const v = document.getElementById('v');
            const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : {};
            return {
                engine: document.getElementById('engine').textContent,
                frames: q.totalVideoFrames || 0, time: v.currentTime, paused: v.paused,
                width: v.videoWidth, height: v.videoHeight,
                behind: document.body.dataset.behind || null,
                text: document.getElementById('behind').textContent,
                live: document.body.dataset.live,
                label: document.querySelector('.state').textContent,
            };
        });
        if (first === null && s.frames > 0) first = { ...s, at: Date.now() };
        if (first && Date.now() - first.at >= 3000 && s.frames > first.frames + 25
            && s.time > first.time + 1 && s.behind !== null) {
            ok = true;
            break;
        }
        await page.waitForTimeout(250);
    }
    return { ok, ...s, first, startup_s: first ? (first.at - t0) / 1000 : null,
             played_s: first ? s.time - first.time : 0,
             frames_advanced: first ? s.frames - first.frames : 0 };
}

let out = { ok: false };
try {
    browser = await chromium.launch({
        executablePath: a.chromium,
        headless: true,
        timeout: 30000,
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
               '--disable-component-update', '--disable-sync', '--no-first-run',
               '--autoplay-policy=no-user-gesture-required'],
    });
    const context = await browser.newContext(PHONE);
    const page = await context.newPage();
    const requests = [];
    const foreign = [];
    const errors = [];
    page.on('request', (r) => {
        requests.push(r.url());
        if (new URL(r.url()).origin !== origin && !r.url().startsWith('blob:')
            && !r.url().startsWith('data:')) foreign.push(r.url());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    const res = await page.goto(a.url, { waitUntil: 'domcontentloaded', timeout: 30000 });
    const status = res ? res.status() : 0;
    const r = a.mode === 'overview' ? await overview(page) : await player(page);
    if (a.screenshot) await page.screenshot({ path: a.screenshot, fullPage: a.mode === 'overview' });
    const snapshots = requests.filter((u) => /snapshot\.jpg/.test(u)).length;
    out = { ...r, status, snapshots, requests: requests.length, foreign,
            errors: errors.filter((e) => !/Failed to load resource.*503/.test(e)),
            viewport: PHONE.viewport };
    out.ok = r.ok && status === 200;
} catch (e) {
    out = { ok: false, error: String(e && e.stack || e) };
} finally {
    if (browser) await browser.close().catch(() => {});
    clearTimeout(deadline);
}
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(out.ok ? 0 : 1);
