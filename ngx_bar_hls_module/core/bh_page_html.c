
/*
 * ngx_bar_hls_module media core: the pages' HTML, CSS and scripts, as
 * templates for bh_page.c.  {{key}} stands for a value that bh_page.c
 * writes escaped for HTML (the keys are its own, see there); nothing
 * else in here is ever replaced.  The scripts take what they need from
 * data- attributes.
 *
 * Mobile first: one column on a phone, as many as fit on a wider screen;
 * system fonts only, no request to any other site but the player script
 * the operator configured.
 */


#include "bh_page_int.h"


#define BH_PAGE_HEAD                                                         \
    "<!doctype html>\n"                                                      \
    "<html lang=\"en\">\n"                                                   \
    "<head>\n"                                                               \
    "<meta charset=\"utf-8\">\n"                                             \
    "<meta name=\"viewport\" content=\"width=device-width, "                 \
        "initial-scale=1\">\n"                                               \
    "<meta name=\"referrer\" content=\"same-origin\">\n"                  \
    "<link rel=\"icon\" href=\"data:,\">\n"

#define BH_PAGE_CSS                                                          \
    ":root{color-scheme:dark}\n"                                             \
    "*{box-sizing:border-box}\n"                                             \
    "body{margin:0;background:#111;color:#eee;"                              \
        "font:16px/1.4 system-ui,-apple-system,\"Segoe UI\",Roboto,"         \
        "sans-serif}\n"                                                      \
    "header{display:flex;flex-wrap:wrap;align-items:baseline;"              \
        "gap:.2em 1em;padding:.7em 1rem}\n"                                  \
    "h1{font-size:1.25em;margin:0}\n"                                        \
    "a{color:inherit}\n"                                                     \
    ".note{color:#999;font-size:.85em}\n"                                    \
    ".state::before{content:\"\";display:inline-block;width:.6em;"           \
        "height:.6em;border-radius:50%;margin-right:.35em;"                  \
        "background:#777}\n"                                                 \
    "[data-live=\"1\"] .state::before{background:#3c3}\n"                    \
    "[data-live=\"0\"] .state::before{background:#d33}\n"


/* the state as the page says it: the same words as bh_page.c's */
#define BH_PAGE_JS_LABEL                                                     \
    "    function when(sec) {\n"                                             \
    "        var d = new Date(sec * 1000);\n"                                \
    "        var t = d.toLocaleTimeString([], { hour: \"2-digit\",\n"        \
    "                                          minute: \"2-digit\" });\n"   \
    "        return d.toDateString() === new Date().toDateString() ? t\n"    \
    "            : d.toLocaleDateString([], { month: \"short\",\n"          \
    "                                         day: \"numeric\" })\n"        \
    "              + \" \" + t;\n"                                             \
    "    }\n"                                                                \
    "\n"                                                                     \
    "    function label(cam, now) {\n"                                       \
    "        if (cam.live) { return \"live\"; }\n"                           \
    "        if (cam.state === \"connecting\"\n"                             \
    "            && now / 1000 - cam.offline_since < 15) {\n"                \
    "            return \"connecting\";\n"                                   \
    "        }\n"                                                            \
    "        return \"offline since \" + when(cam.offline_since);\n"         \
    "    }\n"


const char  bh_page_overview_head[] =
    BH_PAGE_HEAD
    "<title>{{title}}</title>\n"
    "<style>\n"
    BH_PAGE_CSS
    "main{display:grid;gap:1rem;padding:0 1rem 1rem;"
        "grid-template-columns:repeat(auto-fill,minmax(17rem,1fr))}\n"
    ".cam{display:block;text-decoration:none;background:#1d1d1d;"
        "border-radius:.6em;overflow:hidden}\n"
    ".pic{position:relative;background:#000}\n"
    ".pic img{display:block;width:100%;height:100%;object-fit:contain}\n"
    ".pic .none{display:none;position:absolute;inset:0;"
        "align-items:center;justify-content:center;color:#888}\n"
    "[data-pic=\"0\"] .pic img{visibility:hidden}\n"
    "[data-pic=\"0\"] .pic .none{display:flex}\n"
    "[data-live=\"0\"] .pic img{filter:grayscale(1);opacity:.6}\n"
    ".meta{display:flex;flex-wrap:wrap;justify-content:space-between;"
        "gap:0 .6em;padding:.5em .7em}\n"
    ".name{font-weight:600}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n"
    "<header><h1>{{title}}</h1>"
    "<span class=\"note\" id=\"note\"></span></header>\n"
    "<main>\n";


const char  bh_page_overview_card[] =
    "<a class=\"cam\" href=\"{{name}}/\" data-cam=\"{{name}}\" "
        "data-live=\"{{live}}\" data-pic=\"1\">\n"
    "<div class=\"pic\" style=\"aspect-ratio:{{width}}/{{height}}\">"
    "<img src=\"{{name}}/snapshot.jpg?width=640\" alt=\"{{name}}, "
        "the latest picture\" decoding=\"async\">"
    "<span class=\"none\">no picture yet</span></div>\n"
    "<div class=\"meta\"><span class=\"name\">{{name}}</span> "
    "<span class=\"state\">{{label}}</span></div>\n"
    "</a>\n";


const char  bh_page_overview_tail[] =
    "</main>\n"
    "<script>\n"
    "\"use strict\";\n"
    "(function () {\n"
    "    var widths = [160, 320, 640, 1280];\n"
    "    var cards = {};\n"
    "    var note = document.getElementById(\"note\");\n"
    "    var all = document.querySelectorAll(\".cam\");\n"
    "    var i;\n"
    "\n"
    "    for (i = 0; i < all.length; i++) {\n"
    "        cards[all[i].dataset.cam] = all[i];\n"
    "        watch(all[i]);\n"
    "    }\n"
    "\n"
    "    function watch(card) {\n"
    "        var img = card.querySelector(\"img\");\n"
    "        img.addEventListener(\"error\", function () {\n"
    "            if (!card.dataset.etag) { card.dataset.pic = \"0\"; }\n"
    "        });\n"
    "    }\n"
    "\n"
    "    /* the smallest width that fills the picture on this screen */\n"
    "    function pick(img) {\n"
    "        var want = (img.clientWidth || 320)\n"
    "                   * (window.devicePixelRatio || 1);\n"
    "        for (var i = 0; i < widths.length; i++) {\n"
    "            if (widths[i] >= want) { return widths[i]; }\n"
    "        }\n"
    "        return widths[widths.length - 1];\n"
    "    }\n"
    "\n"
    BH_PAGE_JS_LABEL
    "\n"
    "    function picture(card) {\n"
    "        var img = card.querySelector(\"img\");\n"
    "        var url = card.dataset.cam + \"/snapshot.jpg?width=\" "
        "+ pick(img);\n"
    "        return fetch(url, { cache: \"no-cache\" }).then(function (r) {\n"
    "            var etag = r.headers.get(\"ETag\");\n"
    "            if (!r.ok) {\n"
    "                if (!card.dataset.etag) { card.dataset.pic = \"0\"; }\n"
    "                return;\n"
    "            }\n"
    "            card.dataset.age = r.headers.get(\"Snapshot-Age\") || \"\";\n"
    "            if (etag && etag === card.dataset.etag) { return; }\n"
    "            return r.blob().then(function (b) {\n"
    "                var old = img.dataset.blob;\n"
    "                img.dataset.blob = URL.createObjectURL(b);\n"
    "                img.onload = function () {\n"
    "                    if (old) { URL.revokeObjectURL(old); }\n"
    "                };\n"
    "                img.src = img.dataset.blob;\n"
    "                card.dataset.etag = etag || \"\";\n"
    "                card.dataset.pic = \"1\";\n"
    "                card.dataset.pictures = "
        "String((+card.dataset.pictures || 0) + 1);\n"
    "            });\n"
    "        }).catch(function () {});\n"
    "    }\n"
    "\n"
    "    function tick() {\n"
    "        if (document.hidden) { return; }\n"
    "        fetch(\"cameras.json\", { cache: \"no-cache\" })\n"
    "            .then(function (r) { return r.json(); })\n"
    "            .then(function (j) {\n"
    "                j.cameras.forEach(function (cam) {\n"
    "                    var card = cards[cam.name];\n"
    "                    if (!card) { return; }\n"
    "                    card.dataset.live = cam.live ? \"1\" : \"0\";\n"
    "                    card.querySelector(\".state\").textContent =\n"
    "                        label(cam, j.now);\n"
    "                });\n"
    "                note.textContent = \"updated \"\n"
    "                    + new Date().toLocaleTimeString();\n"
    "            })\n"
    "            .catch(function () {\n"
    "                note.textContent = \"the server does not answer\";\n"
    "            });\n"
    "        Object.keys(cards).forEach(function (name) {\n"
    "            picture(cards[name]);\n"
    "        });\n"
    "    }\n"
    "\n"
    "    tick();\n"
    "    setInterval(tick, 3000);\n"
    "    document.addEventListener(\"visibilitychange\", tick);\n"
    "})();\n"
    "</script>\n"
    "</body>\n"
    "</html>\n";


const char  bh_page_player_html[] =
    BH_PAGE_HEAD
    "<title>{{name}} &middot; {{title}}</title>\n"
    "<style>\n"
    BH_PAGE_CSS
    ".stage{background:#000;max-height:80vh}\n"
    "video{display:block;width:100%;height:100%;max-height:80vh;"
        "background:#000}\n"
    ".info{margin:.6em 1rem}\n"
    "#banner{display:none;margin:0;padding:.5em 1rem;background:#4a1f1f}\n"
    "[data-live=\"0\"] #banner{display:block}\n"
    "</style>\n"
    "</head>\n"
    "<body data-cam=\"{{name}}\" data-player-js=\"{{js}}\" "
        "data-live=\"{{live}}\">\n"
    "<header><a href=\"../\">&larr; {{title}}</a><h1>{{name}}</h1>"
    "<span class=\"state\">{{label}}</span></header>\n"
    "<p id=\"banner\">The camera is offline: this is the last picture.</p>\n"
    "<div class=\"stage\" style=\"aspect-ratio:{{width}}/{{height}}\">"
    "<video id=\"v\" muted autoplay playsinline controls "
        "poster=\"snapshot.jpg?width=640\"></video></div>\n"
    "<p class=\"info\"><span id=\"behind\"></span> "
    "<span class=\"note\" id=\"engine\"></span></p>\n"
    "<script>\n"
    "\"use strict\";\n"
    "(function () {\n"
    "    var body = document.body;\n"
    "    var video = document.getElementById(\"v\");\n"
    "    var behind = document.getElementById(\"behind\");\n"
    "    var state = document.querySelector(\".state\");\n"
    "    var js = body.dataset.playerJs;\n"
    "    var ask = new URLSearchParams(location.search).get(\"engine\");\n"
    "    var native = video.canPlayType(\"application/vnd.apple.mpegurl\")"
        " !== \"\";\n"
    "    var dated = typeof video.getStartDate === \"function\";\n"
    "    var hls = null, lastJump = 0, lag = null, engine = \"\";\n"
    "\n"
    BH_PAGE_JS_LABEL
    "\n"
    "    function say(text) {\n"
    "        behind.textContent = text;\n"
    "    }\n"
    "\n"
    "    function playNative() {\n"
    "        engine = \"native\";\n"
    "        video.src = \"master.m3u8\";\n"
    "        video.play().catch(function () {});\n"
    "    }\n"
    "\n"
    "    function playHls() {\n"
    "        engine = \"hls.js\";\n"
    "        hls = new Hls({ lowLatencyMode: true, backBufferLength: 30 });\n"
    "        hls.on(Hls.Events.ERROR, function (e, d) {\n"
    "            if (!d.fatal) { return; }\n"
    "            if (d.type === Hls.ErrorTypes.MEDIA_ERROR) {\n"
    "                hls.recoverMediaError();\n"
    "            } else {\n"
    "                setTimeout(restart, 2000);\n"
    "            }\n"
    "        });\n"
    "        hls.loadSource(\"master.m3u8\");\n"
    "        hls.attachMedia(video);\n"
    "        video.play().catch(function () {});\n"
    "    }\n"
    "\n"
    "    /* native where the browser dates it (Safari), else hls.js */\n"
    "    function start() {\n"
    "        var use = ask === \"native\" || ask === \"hls.js\" ? ask\n"
    "                  : native && dated ? \"native\" : js ? \"hls.js\""
        " : \"native\";\n"
    "        if (use === \"native\") {\n"
    "            return native ? playNative()\n"
    "                          : say(\"This browser cannot play HLS.\");\n"
    "        }\n"
    "        if (window.Hls) { return Hls.isSupported() ? playHls() "
        ": playNative(); }\n"
    "        var s = document.createElement(\"script\");\n"
    "        s.src = js;\n"
    "        s.onload = function () {\n"
    "            if (window.Hls && Hls.isSupported()) { playHls(); }\n"
    "            else if (native) { playNative(); }\n"
    "            else { say(\"This browser cannot play HLS.\"); }\n"
    "        };\n"
    "        s.onerror = function () {\n"
    "            if (native) { playNative(); }\n"
    "            else { say(\"The player script did not load.\"); }\n"
    "        };\n"
    "        document.head.appendChild(s);\n"
    "    }\n"
    "\n"
    "    function restart() {\n"
    "        if (hls) { hls.destroy(); hls = null; }\n"
    "        video.removeAttribute(\"src\");\n"
    "        video.load();\n"
    "        start();\n"
    "    }\n"
    "\n"
    "    /* where the media ends: seekable, or what is buffered */\n"
    "    function edge() {\n"
    "        var r = video.seekable.length ? video.seekable : video.buffered;\n"
    "        return r.length ? r.end(r.length - 1) : null;\n"
    "    }\n"
    "\n"
    "    /* once playing, to the live edge when far from it (10 s apart) */\n"
    "    function catchUp() {\n"
    "        var i, end, lsp;\n"
    "        if (video.paused || video.seeking\n"
    "            || Date.now() - lastJump < 10000) { return; }\n"
    "        if (hls) {\n"
    "            lsp = hls.liveSyncPosition;\n"
    "            if (lsp === null || hls.targetLatency === null\n"
    "                || hls.latency - hls.targetLatency < 0.25\n"
    "                || lsp <= video.currentTime) { return; }\n"
    "            for (i = 0; i < video.buffered.length; i++) {\n"
    "                if (lsp >= video.buffered.start(i)\n"
    "                    && lsp < video.buffered.end(i) - 0.05) {\n"
    "                    video.currentTime = lsp;\n"
    "                    lastJump = Date.now();\n"
    "                    return;\n"
    "                }\n"
    "            }\n"
    "            return;\n"
    "        }\n"
    "        end = edge();\n"
    "        if (end !== null) {\n"
    "            if (end - video.currentTime > 3) {\n"
    "                video.currentTime = end - 1;\n"
    "                lastJump = Date.now();\n"
    "            }\n"
    "        }\n"
    "    }\n"
    "\n"
    "    /* how far behind the camera, from EXT-X-PROGRAM-DATE-TIME */\n"
    "    function late() {\n"
    "        var d, end;\n"
    "        if (hls && hls.playingDate) {\n"
    "            return (Date.now() - hls.playingDate.getTime()) / 1000;\n"
    "        }\n"
    "        if (dated && !isNaN(video.getStartDate().getTime())) {\n"
    "            d = video.getStartDate().getTime() + video.currentTime"
        " * 1000;\n"
    "            return (Date.now() - d) / 1000;\n"
    "        }\n"
    "        end = edge();\n"
    "        if (end !== null && lag !== null) {\n"
    "            return end - video.currentTime + lag;\n"
    "        }\n"
    "        return null;\n"
    "    }\n"
    "\n"
    "    setInterval(function () {\n"
    "        var s;\n"
    "        catchUp();\n"
    "        s = late();\n"
    "        if (s !== null && !video.paused && body.dataset.live === \"1\")"
        " {\n"
    "            body.dataset.behind = s.toFixed(2);\n"
    "            say(s.toFixed(1) + \" s behind the camera\");\n"
    "        }\n"
    "        document.getElementById(\"engine\").textContent = engine;\n"
    "    }, 250);\n"
    "\n"
    "    function poll() {\n"
    "        fetch(\"../cameras.json\", { cache: \"no-cache\" })\n"
    "            .then(function (r) { return r.json(); })\n"
    "            .then(function (j) {\n"
    "                j.cameras.forEach(function (cam) {\n"
    "                    var was = body.dataset.live;\n"
    "                    if (cam.name !== body.dataset.cam) { return; }\n"
    "                    body.dataset.live = cam.live ? \"1\" : \"0\";\n"
    "                    state.textContent = label(cam, j.now);\n"
    "                    lag = cam.newest ? (j.now - cam.newest) / 1000"
        " : null;\n"
    "                    if (!cam.live) { say(\"\"); }\n"
    "                    if (cam.live && was === \"0\") { restart(); }\n"
    "                });\n"
    "            })\n"
    "            .catch(function () {});\n"
    "    }\n"
    "\n"
    "    start();\n"
    "    poll();\n"
    "    setInterval(poll, 4000);\n"
    "})();\n"
    "</script>\n"
    "</body>\n"
    "</html>\n";
