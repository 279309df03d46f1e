#!/usr/bin/env node
// bench/wakeup.mjs: how soon held LL-HLS requests are answered after the
// part they wait for is published, on the camera's owner worker and on the
// others, while other requests for the same camera keep arriving.
//
//   node bench/wakeup.mjs --url http://127.0.0.1:PORT/live/cam/ --owner PID
//       [--seconds 10] [--ll 40] [--classic 4] [--fetchers 4]
//       [--records FILE] [--hard 60]
//
// Mixed load on one camera, every request on a new connection (so that a
// `listen ... reuseport` spreads them over the workers):
//   --ll N        LL-HLS viewers, as hls.js does: the blocking playlist
//                 reload index.m3u8?_HLS_msn=M&_HLS_part=K for the preload
//                 hint, and the hinted part-N.m4s itself, both at once;
//                 the next pair once both are answered;
//   --classic N   classic viewers polling the plain index.m3u8 as fast as
//                 they can (the requests that used up a change in the old
//                 code's poll);
//   --fetchers N  the plain playlist, then its newest segment and part,
//                 every 100 ms.
// nginx must add the answering worker's pid as a header:
// `add_header X-Worker $pid always;`.
//
// The time a part became available is the earliest answer, at this
// client, to a request that waited for it on the owner worker (--owner):
// the owner answers its own held requests in the event that publishes the
// part, before anything else.  A held request is one sent before that
// moment; its wake-up latency is its answer time minus that moment.  On
// the owner it is the time to answer the whole batch; on another worker it
// adds the cross-worker wake-up.  Both include this client's own event
// loop, which reads the answers one after the other.
//
// Prints one JSON object: counts, statuses, held requests and their
// latency (ms, p50/p90/p99/max) on the owner and on the other workers,
// the held requests answered 503 (block timeout) or without the part they
// waited for, socket errors.  127.0.0.1 only; every loop bounded; a hard
// deadline (--hard s, default seconds + 40) ends it regardless.  Exit code
// 0 when it ran, 2 on bad arguments.

import http from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

function usage(msg) {
    if (msg) process.stderr.write(`wakeup.mjs: ${msg}\n`);
    process.stderr.write('usage: node bench/wakeup.mjs --url http://127.0.0.1:PORT/live/cam/ --owner PID '
                         + '[--seconds 10] [--ll 40] [--classic 4] [--fetchers 4] [--records FILE]\n');
    process.exit(2);
}

const opt = { seconds: 10, ll: 40, classic: 4, fetchers: 4, owner: 0, url: null, records: null, hard: 0,
              access_log: null, late: 100 };
for (let i = 2; i < process.argv.length; i++) {
    const a = process.argv[i];
    const v = process.argv[i + 1];
    if (a === '--url') opt.url = new URL(v);
    else if (a === '--records') opt.records = v;
    else if (a === '--access-log') opt.access_log = v;
    else if (['--seconds', '--ll', '--classic', '--fetchers', '--owner', '--hard', '--late'].includes(a)) {
        opt[a.slice(2)] = Number(v);
    }
    else usage(`unknown argument ${a}`);
    i++;
}
if (!opt.url) usage('no --url');
if (opt.url.hostname !== '127.0.0.1') usage('--url must be on 127.0.0.1');
if (!opt.url.pathname.endsWith('/')) opt.url.pathname += '/';
if (!(opt.owner > 0)) usage('--owner PID (the camera\'s owner_pid in the status)');
if (!(opt.seconds > 0 && opt.seconds <= 600)) usage('0 < seconds <= 600');
for (const k of ['ll', 'classic', 'fetchers']) {
    if (!(Number.isInteger(opt[k]) && opt[k] >= 0 && opt[k] <= 2000)) usage(`0 <= ${k} <= 2000`);
}

const hard = setTimeout(() => {
    process.stderr.write('wakeup.mjs: hard deadline reached\n');
    process.exit(1);
}, (opt.hard || opt.seconds + 40) * 1000);
hard.unref();

const now = () => performance.timeOrigin + performance.now();      // ms, epoch
const base = opt.url.pathname;
const records = [];         // held-type requests: reload / hint
const st = { requests: 0, by_kind: {}, by_status: {}, errors: 0, error_kinds: {}, workers: {} };
let running = true;

// one GET on a new connection: { status, worker, body, sent, answered }
function get(path, kind, wantBody) {
    return new Promise((resolve) => {
        const r = { kind, path, sent: now(), status: 0, worker: 0, body: '' };
        st.requests++;
        st.by_kind[kind] = (st.by_kind[kind] || 0) + 1;
        const req = http.request({
            host: opt.url.hostname, port: opt.url.port, path, method: 'GET', agent: false,
            headers: { Connection: 'close' },
        });
        req.setTimeout(30000, () => req.destroy(new Error('timeout')));
        req.on('response', (res) => {
            r.answered = now();
            r.status = res.statusCode;
            r.worker = Number(res.headers['x-worker'] || 0);
            st.by_status[r.status] = (st.by_status[r.status] || 0) + 1;
            st.workers[r.worker] = (st.workers[r.worker] || 0) + 1;
            const chunks = [];
            let len = 0;
            res.on('data', (c) => {
                len += c.length;
                if (wantBody && len <= 1 << 20) chunks.push(c);
            });
            res.on('end', () => {
                r.bytes = len;
                if (wantBody) r.body = Buffer.concat(chunks).toString('latin1');
                resolve(r);
            });
            res.on('error', () => resolve(r));
        });
        req.on('error', (e) => {
            st.errors++;
            st.error_kinds[e.code || e.message] = (st.error_kinds[e.code || e.message] || 0) + 1;
            r.error = e.code || e.message;
            resolve(r);
        });
        req.end();
    });
}

// the preload hint of an LL playlist: { uri, msn, part } (msn and part:
// where it lands unless a keyframe makes it the next segment's first)
function hintOf(text) {
    let msn = null, parts = 0, seq = null, hint = null;
    for (const line of text.split('\n')) {
        let m;
        if ((m = /^#EXT-X-MEDIA-SEQUENCE:(\d+)$/.exec(line))) seq = Number(m[1]);
        else if ((m = /^seg-(\d+)\.(?:m4s|ts)$/.exec(line))) { msn = Number(m[1]); parts = 0; }
        else if (line.startsWith('#EXT-X-PART:')) parts++;
        else if ((m = /^#EXT-X-PRELOAD-HINT:.*URI="(part-[\d.]+\.(?:m4s|ts))"/.exec(line))) {
            hint = { uri: m[1] };
        }
    }
    if (!hint) return null;
    hint.msn = msn === null ? seq : msn + 1;
    hint.part = parts;
    return hint;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function llViewer(id) {
    await sleep(Math.random() * 300);
    let hint = null;
    for (let i = 0; i < 100000 && running; i++) {
        if (!hint) {
            const r = await get(`${base}index.m3u8`, 'start', true);
            hint = r.status === 200 ? hintOf(r.body) : null;
            if (!hint) { await sleep(200); continue; }
        }
        const target = hint.uri;
        const [pl, part] = await Promise.all([
            get(`${base}index.m3u8?_HLS_msn=${hint.msn}&_HLS_part=${hint.part}`, 'reload', true),
            get(`${base}${hint.uri}`, 'hint', false),
        ]);
        for (const r of [pl, part]) {
            r.target = target;
            r.viewer = id;
        }
        pl.has_target = pl.status === 200 && pl.body.includes(`URI="${target}"`);
        part.has_target = part.status === 200 && part.bytes > 0;
        records.push(pl, part);
        hint = pl.status === 200 ? hintOf(pl.body) : null;
        pl.body = '';
        if (!hint) await sleep(100);
    }
}

async function classic() {
    for (let i = 0; i < 1000000 && running; i++) {
        await get(`${base}index.m3u8`, 'classic', false);
    }
}

async function fetcher() {
    for (let i = 0; i < 100000 && running; i++) {
        const r = await get(`${base}index.m3u8`, 'fetch-playlist', true);
        if (r.status === 200) {
            const segs = r.body.match(/^seg-\d+\.(?:m4s|ts)$/mg) || [];
            const parts = [...r.body.matchAll(/^#EXT-X-PART:.*URI="([^"]+)"/mg)].map((m) => m[1]);
            const want = [];
            if (segs.length) want.push(segs[segs.length - 1]);
            if (parts.length) want.push(parts[parts.length - 1]);
            await Promise.all(want.map((u) => get(`${base}${u}`, 'fetch-media', false).then((m) => {
                if (m.status >= 500) st.media_5xx = (st.media_5xx || 0) + 1;
            })));
        }
        await sleep(100);
    }
}

function pct(sorted, p) {
    if (!sorted.length) return null;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1));
    return Math.round(sorted[i] * 100) / 100;
}

function summary(xs) {
    const s = xs.slice().sort((a, b) => a - b);
    return { n: s.length, p50: pct(s, 50), p90: pct(s, 90), p99: pct(s, 99), max: s.length ? pct(s, 100) : null };
}

// records, then latencies (ms) of the held ones by role
function analyse(records) {
    // when each part became available: the owner's first answer for it
    const avail = new Map();
    for (const r of records) {
        if (r.status !== 200 || !r.has_target || r.worker !== opt.owner) continue;
        const t = avail.get(r.target);
        if (t === undefined || r.answered < t) avail.set(r.target, r.answered);
    }
    const lat = { owner: [], other: [] };
    const out = {
        parts_seen: new Set(records.map((r) => r.target)).size,
        parts_with_reference: avail.size,
        held: 0, held_owner: 0, held_other: 0, not_held: 0, no_reference: 0,
        held_503: 0, answered_503: 0, without_target: 0, unanswered: 0,
        late_owner: 0, late_other: 0, late: [],
    };
    for (const r of records) {
        if (r.error || !r.status) { out.unanswered++; continue; }
        if (r.status === 503) out.answered_503++;
        if (r.status === 200 && !r.has_target) out.without_target++;
        const t = avail.get(r.target);
        if (t === undefined) { out.no_reference++; continue; }
        if (r.sent >= t) { out.not_held++; continue; }
        out.held++;
        if (r.status === 503) { out.held_503++; continue; }
        if (r.status !== 200) continue;
        const role = r.worker === opt.owner ? 'owner' : 'other';
        out[`held_${role}`]++;
        const ms = r.answered - t;
        lat[role].push(ms);
        if (ms > opt.late) out[`late_${role}`]++;
        if (ms > opt.late && out.late.length < 20) {
            out.late.push({ kind: r.kind, target: r.target, worker: r.worker, ms: Math.round(ms) });
        }
    }
    out.latency_ms = { owner: summary(lat.owner), other: summary(lat.other) };
    return out;
}

// the access log ($msec $pid $request_time $status $request_uri) of the
// held-type requests as records: nginx's own clock, one per event loop
// turn, so the owner's answers in the publishing turn all say that turn
function serverRecords(file) {
    const targetOf = new Map();
    for (const r of records) targetOf.set(r.path, r.target);
    const out = [];
    let text;
    try {
        text = readFileSync(file, 'latin1');
    } catch (e) {
        return { error: `${file}: ${e.code || e.message}` };
    }
    for (const line of text.split('\n')) {
        const m = /^(\d+\.\d+) (\d+) (\d+\.\d+) (\d+) (\S+)$/.exec(line);
        if (!m) continue;
        const target = targetOf.get(m[5]);
        if (target === undefined) continue;
        const answered = Number(m[1]) * 1000;
        out.push({ target, worker: Number(m[2]), status: Number(m[4]), has_target: Number(m[4]) === 200,
                   answered, sent: answered - Number(m[3]) * 1000, kind: m[5].includes('_HLS_') ? 'reload' : 'hint' });
    }
    return out;
}

async function main() {
    const t0 = now();
    const tasks = [];
    for (let i = 0; i < opt.ll; i++) tasks.push(llViewer(i));
    for (let i = 0; i < opt.classic; i++) tasks.push(classic());
    for (let i = 0; i < opt.fetchers; i++) tasks.push(fetcher());
    await sleep(opt.seconds * 1000);
    running = false;
    // the held requests end within the block timeout; bounded by --hard
    await Promise.all(tasks);
    const out = Object.assign({ seconds: Math.round((now() - t0) / 10) / 100, owner: opt.owner,
                                ll: opt.ll, classic: opt.classic, fetchers: opt.fetchers }, st,
                              { client: analyse(records) });
    if (opt.access_log) {
        // nginx writes the line as it finishes the request: let it
        await sleep(500);
        const srv = serverRecords(opt.access_log);
        out.server = Array.isArray(srv) ? analyse(srv) : srv;
    }
    if (opt.records) {
        writeFileSync(opt.records, records.map((r) => JSON.stringify({
            kind: r.kind, path: r.path, target: r.target, viewer: r.viewer, worker: r.worker, status: r.status,
            sent: r.sent, answered: r.answered, has_target: r.has_target, error: r.error,
        })).join('\n') + '\n');
    }
    process.stdout.write(JSON.stringify(out) + '\n');
    return 0;
}

main().then((c) => process.exit(c), (e) => {
    process.stderr.write(`wakeup.mjs: ${e.stack || e}\n`);
    process.exit(1);
});
