#!/usr/bin/env node
// bench/hold.mjs: open COUNT concurrent HTTP requests that the server is
// expected to hold (LL-HLS blocking reloads / preload-hinted parts of a
// stalled camera), keep them open for --seconds, then close them all.
//
//   node bench/hold.mjs --count 1000 --seconds 20 URL [URL...]
//
// One TCP connection per request, the URLs used round-robin, connections
// opened in batches of 50 every 20 ms.  127.0.0.1 only.  Once every
// request is written it prints "ready N" on stderr; at the end one JSON
// object on stdout: requests opened, connected, answered during the hold
// (by status), socket errors, and still pending when the hold ended (the
// held ones).  Exit code 0 when every request was still pending at the
// end, 1 otherwise.  A hard deadline of seconds + 60 s ends it regardless.

import http from 'node:http';

function usage(msg) {
    if (msg) process.stderr.write(`hold.mjs: ${msg}\n`);
    process.stderr.write('usage: node bench/hold.mjs [--count 1000] [--seconds 20] URL [URL...]\n');
    process.exit(2);
}

let count = 1000;
let seconds = 20;
const urls = [];
for (let i = 2; i < process.argv.length; i++) {
    const a = process.argv[i];
    if (a === '--count') count = Number(process.argv[++i]);
    else if (a === '--seconds') seconds = Number(process.argv[++i]);
    else if (a.startsWith('--')) usage(`unknown argument ${a}`);
    else urls.push(new URL(a));
}
if (!urls.length) usage('no URL');
if (!(count >= 1 && count <= 10000)) usage('1 <= count <= 10000');
if (!(seconds > 0 && seconds <= 600)) usage('0 < seconds <= 600');
for (const u of urls) {
    if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') usage(`${u} is not on 127.0.0.1`);
}

const hard = setTimeout(() => {
    process.stderr.write('hold.mjs: hard deadline reached\n');
    process.exit(1);
}, (seconds + 60) * 1000);
hard.unref();

const reqs = [];
const st = { opened: 0, connected: 0, answered: 0, by_status: {}, errors: 0, error_kinds: {} };
let holding = false;
const answeredAt = [];

function open(i) {
    const u = urls[i % urls.length];
    const req = http.request({
        host: u.hostname, port: u.port, path: u.pathname + u.search,
        method: 'GET', agent: false,
        headers: { Connection: 'close', Origin: 'http://127.0.0.1' },
    });
    req.on('socket', (s) => s.on('connect', () => { st.connected++; }));
    req.on('response', (res) => {
        st.answered++;
        st.by_status[res.statusCode] = (st.by_status[res.statusCode] || 0) + 1;
        if (answeredAt.length < 20) answeredAt.push({ url: u.pathname + u.search, status: res.statusCode });
        res.resume();
    });
    req.on('error', (e) => {
        if (holding === 'done') return;     // our own destroy()
        st.errors++;
        st.error_kinds[e.code || e.message] = (st.error_kinds[e.code || e.message] || 0) + 1;
    });
    req.end();
    reqs.push(req);
    st.opened++;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
    for (let i = 0; i < count; i += 50) {
        for (let j = i; j < Math.min(count, i + 50); j++) open(j);
        await sleep(20);
    }
    // bounded wait for the connections to be established
    for (let k = 0; k < 250 && st.connected + st.errors < count; k++) await sleep(20);
    holding = true;
    process.stderr.write(`ready ${st.connected}\n`);
    const answeredBefore = st.answered;
    await sleep(seconds * 1000);
    const pending = reqs.filter((r) => !r.res && !r.destroyed).length;
    holding = 'done';
    for (const r of reqs) r.destroy();
    const out = Object.assign({}, st, {
        seconds, urls: urls.map(String),
        answered_before_hold: answeredBefore,
        pending_at_end: pending,
        first_answers: answeredAt,
    });
    process.stdout.write(JSON.stringify(out) + '\n');
    return pending === count ? 0 : 1;
}

main().then((c) => process.exit(c), (e) => {
    process.stderr.write(`hold.mjs: ${e.stack || e}\n`);
    process.exit(1);
});
