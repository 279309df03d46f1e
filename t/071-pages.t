# bar_hls_page: the overview and the player pages, as a phone shows them
# (headless Chromium at 390x844, t/tools/pages.mjs): every camera's
# picture, not blank and refreshed; the player playing, frames advancing,
# saying how far behind the camera it is, with hls.js from the URL
# bar_hls_player_js names (served here from node_modules by nginx) and
# with the browser's own HLS; a camera that never came and one that went
# away shown as offline.  Screenshots are kept in
# build/test-output/071-pages/.  The HTML itself (escaping, caching,
# redirects, no camera URL) is checked without a browser.  The browser
# checks are skipped when node, Chromium or node_modules are missing.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use File::Path ();
use IPC::Run ();
use JSON::PP ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

my $Root = repo_root();
my $Chromium = $ENV{CHROMIUM} || '/usr/bin/chromium';
# (make test-asan, which .ci/run runs beside make test, has its own)
our $Out = "$Root/build/test-output/071-pages" . ($ENV{BAR_HLS_SANITIZER_DIR} ? '-asan' : '');
File::Path::make_path($Out);
our @Missing = grep { !-e $_->[1] } (
    ['node', '/usr/bin/node'],
    ['Chromium', $Chromium],
    ['node_modules/hls.js (npm ci)', "$Root/node_modules/hls.js/dist/hls.min.js"],
    ['node_modules/playwright-core (npm ci)', "$Root/node_modules/playwright-core/package.json"],
);
$ENV{TEST_NGINX_HLS_JS} = "$Root/node_modules/hls.js/dist/hls.min.js";

log_level('info');
no_shuffle();
master_on();
workers(2);
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

start_camera(env => 'TEST_NGINX_CAM_PORT', gop => 25, audio => 'aac', password => $PASSWORD,
             auth => 'digest');
our $Bob = start_camera(env => 'TEST_NGINX_BOB_PORT', gop => 25, size => '320x240');
$ENV{TEST_NGINX_DEAD_PORT} = free_port();
$ENV{BAR_HLS_TEST_PAGES_URL} = "rtsp://admin:$PASSWORD\@127.0.0.1:$ENV{TEST_NGINX_CAM_PORT}/stream1";

sub browser {
    my ($mode, $url, @opts) = @_;
    my ($out, $err) = ('', '');
    my @cmd = ('node', "$Root/t/tools/pages.mjs", $mode, '--url', nginx_url($url),
               '--chromium', $Chromium, @opts);
    my $ran = eval {
        IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(150));
        1;
    };
    my $r = eval { JSON::PP::decode_json($out) } || { error => "$err$out" };
    $r->{rc} = $ran ? $? >> 8 : -1;
    return $r;
}

sub skip_browser {
    my ($name) = @_;
    return 0 unless @Missing;
    pass("$name - SKIP: no " . join(', ', map { $_->[0] } @Missing));
    return 1;
}

sub card { my ($r, $name) = @_; (grep { $_->{name} eq $name } @{ $r->{cards} || [] })[0] || {} }

sub check_overview {
    my ($block) = @_;
    my $name = $block->name;
    return if skip_browser($name);
    my $r = browser('overview', '/live/', '--seconds', 30, '--offline', 'dead',
                    '--screenshot', "$Out/overview.png");
    ok($r->{ok}, "$name - every picture shown and refreshed, the dead camera offline "
                 . sprintf('(%.1f s)', $r->{waited_s} // -1))
        or diag(JSON::PP->new->canonical->encode($r));
    is_deeply([map { $_->{name} } @{ $r->{cards} || [] }], [qw(ale bob dead)],
              "$name - a card per camera, in the configuration's order");
    for my $cam (qw(ale bob)) {
        my $c = card($r, $cam);
        is($c->{live}, '1', "$name - $cam: live");
        is($c->{label}, 'live', "$name - $cam: says live");
        ok(($c->{pictures} // 0) >= 2, "$name - $cam: its picture refreshed ($c->{pictures} times)");
        ok(($c->{spread} // 0) > 50, "$name - $cam: not blank (luma variance "
                                     . ($c->{spread} // 'none') . ')');
        is($c->{href}, "$cam/", "$name - $cam: a link to its page");
        ok(($c->{shown} // 0) > 300, "$name - $cam: the width of the phone ($c->{shown} px)");
    }
    is(card($r, 'ale')->{width}, 640, "$name - ale: a picture 640 wide (2x of a phone's column)");
    my $d = card($r, 'dead');
    is($d->{live}, '0', "$name - dead: not live");
    like($d->{label} // '', qr/^offline since \d\d:\d\d/, "$name - dead: \"$d->{label}\"");
    is($d->{pic}, '0', "$name - dead: no picture yet");
    is_deeply($r->{foreign}, [], "$name - no request to another site");
    is_deeply($r->{errors}, [], "$name - no script error");
    ok(-s "$Out/overview.png", "$name - screenshot $Out/overview.png");
    diag(sprintf 'measure: overview refreshed ale %d times in %.1f s, %d snapshot requests',
         card($r, 'ale')->{pictures}, $r->{waited_s}, $r->{snapshots});
}

sub check_player {
    my ($block) = @_;
    my $name = $block->name;
    return if skip_browser($name);
    for my $case (['hls.js', '/live/ale/', 'player-hlsjs.png'],
                  ['native', '/live/ale/?engine=native', 'player-native.png']) {
        my ($engine, $url, $shot) = @$case;
        my $r = browser('player', $url, '--seconds', 40, '--screenshot', "$Out/$shot");
        ok($r->{ok}, "$name - $engine: plays, frames advance, the delay is shown")
            or diag(JSON::PP->new->canonical->encode($r));
        is($r->{engine}, $engine, "$name - $engine: the engine");
        is("$r->{width}x$r->{height}", '640x360', "$name - $engine: 640x360 on screen");
        ok(($r->{frames_advanced} // 0) > 25, "$name - $engine: $r->{frames_advanced} frames "
                                              . "in $r->{played_s} s");
        my $behind = $r->{behind};
        ok(defined $behind && $behind > 0 && $behind < ($engine eq 'native' ? 15 : 5),
           "$name - $engine: \"$r->{text}\"");
        is_deeply($r->{foreign}, [], "$name - $engine: no request to another site");
        is_deeply($r->{errors}, [], "$name - $engine: no script error");
        diag(sprintf "measure: player %s: playing after %.1f s, %.2f s behind the camera",
             $engine, $r->{startup_s} // -1, $behind // -1);
    }
}

# bob's camera goes away: its card says so, and keeps its last picture
sub check_gone {
    my ($block) = @_;
    my $name = $block->name;
    return if skip_browser($name);
    stop_camera($Bob);
    my $r = browser('overview', '/live/', '--seconds', 40, '--offline', 'bob,dead',
                    '--screenshot', "$Out/offline.png");
    ok($r->{ok}, "$name - bob shown offline, ale still live") or diag(JSON::PP->new->canonical->encode($r));
    my $b = card($r, 'bob');
    like($b->{label} // '', qr/^offline since \d\d:\d\d/, "$name - bob: \"$b->{label}\"");
    is($b->{pic}, '1', "$name - bob: its last picture stays");
    ok(($b->{spread} // 0) > 50, "$name - bob: and it is not blank");
    my $p = browser('player', '/live/bob/', '--seconds', 5, '--screenshot', "$Out/player-offline.png");
    is($p->{live}, '0', "$name - bob's page: offline");
    like($p->{label} // '', qr/^offline since /, "$name - bob's page: \"$p->{label}\"");
}

# the HTML, without a browser
sub check_html {
    my ($block, $body) = @_;
    my $name = $block->name;
    like($body, qr{<title>Bars &lt;tonight&gt; &amp; &quot;more&quot;</title>}, "$name - the title, escaped");
    like($body, qr{href="ale/"}, "$name - links to the cameras' pages");
    like($body, qr{src="ale/snapshot\.jpg\?width=640"}, "$name - their snapshots");
    unlike($body, qr/\Q$PASSWORD\E|rtsp:|admin/, "$name - no camera URL, user or password");
    unlike($body, qr{https?://}, "$name - nothing from another site");
    my $p = http_get('/live/ale/');
    is($p->{status}, 200, "$name - the player page");
    like($p->{content}, qr{data-player-js="/js/hls\.min\.js\?v=1&amp;x=&quot;y&quot;"},
         "$name - bar_hls_player_js, escaped");
    unlike($p->{content}, qr/\Q$PASSWORD\E|rtsp:|admin/, "$name - the player page names no secret");
    is($p->{headers}{'cache-control'}, 'public, max-age=5', "$name - pages: a short max-age");
    like($p->{headers}{etag} // '', qr/^"h[0-9a-f]{16}"$/, "$name - pages: an ETag");
    my $again = http_get('/live/ale/', headers => { 'If-None-Match' => $p->{headers}{etag} });
    is($again->{status}, 304, "$name - pages: revalidated");
    my $r = HTTP::Tiny->new(max_redirect => 0, proxy => undef, http_proxy => undef)
                      ->get(nginx_url('/live/ale?engine=native'));
    is($r->{status}, 301, "$name - /live/ale: 301");
    like($r->{headers}{location} // '', qr{/live/ale/\?engine=native$}, "$name - to /live/ale/");
    is(http_get('/live/nosuch/')->{status}, 404, "$name - an unknown camera's page: 404");
    my $j = http_get('/live/cameras.json');
    is($j->{headers}{'content-type'}, 'application/json', "$name - cameras.json");
    my $st = eval { JSON::PP::decode_json($j->{content}) } || {};
    is_deeply([map { $_->{name} } @{ $st->{cameras} || [] }], [qw(ale bob dead)],
              "$name - cameras.json: every camera");
    unlike($j->{content}, qr/\Q$PASSWORD\E|rtsp:|admin|last_error/, "$name - cameras.json: no secret");
    is($j->{headers}{'cache-control'}, 'public, max-age=1', "$name - cameras.json: a second");
    is(http_get('/live/ale/index.m3u8')->{status}, 200, "$name - the media below the pages");
    is(http_get('/js/hls.min.js')->{status}, 200, "$name - hls.js served locally");
}

run_tests();

__DATA__

=== TEST 1: the HTML: escaped, cacheable, no secret
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale env:BAR_HLS_TEST_PAGES_URL;
bar_hls_camera bob rtsp://127.0.0.1:$TEST_NGINX_BOB_PORT/stream1;
bar_hls_camera dead rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 timeout=1s;
--- config
location /live/ {
    bar_hls_page 'Bars <tonight> & "more"';
    bar_hls_player_js '/js/hls.min.js?v=1&x="y"';
}
location = /js/hls.min.js {
    alias $TEST_NGINX_HLS_JS;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 1, 15);
--- request
GET /live/
--- response_headers
Content-Type: text/html; charset=utf-8
Cache-Control: public, max-age=5
X-Content-Type-Options: nosniff
--- bar_check: html



=== TEST 2: the overview at a phone's size: every picture, refreshed; the dead camera offline
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale env:BAR_HLS_TEST_PAGES_URL;
bar_hls_camera bob rtsp://127.0.0.1:$TEST_NGINX_BOB_PORT/stream1;
bar_hls_camera dead rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 timeout=1s;
--- config
location /live/ {
    bar_hls_page;
    bar_hls_player_js /js/hls.min.js;
}
location = /js/hls.min.js {
    alias $TEST_NGINX_HLS_JS;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 1, 15);
BarHls::Test::wait_playlist_ok('/live/bob/index.m3u8', 1, 15);
--- request
GET /live/
--- bar_check: overview



=== TEST 3: the player page plays, with hls.js and natively, and says how far behind it is
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale env:BAR_HLS_TEST_PAGES_URL;
bar_hls_camera bob rtsp://127.0.0.1:$TEST_NGINX_BOB_PORT/stream1;
--- config
location /live/ {
    bar_hls_page;
    bar_hls_player_js /js/hls.min.js;
}
location = /js/hls.min.js {
    alias $TEST_NGINX_HLS_JS;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
--- request
GET /live/ale/
--- bar_check: player



=== TEST 4: a camera that went away: offline on both pages, its last picture kept
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale env:BAR_HLS_TEST_PAGES_URL;
bar_hls_camera bob rtsp://127.0.0.1:$TEST_NGINX_BOB_PORT/stream1 timeout=2s;
bar_hls_camera dead rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 timeout=1s;
--- config
location /live/ {
    bar_hls_page;
    bar_hls_player_js /js/hls.min.js;
}
location = /js/hls.min.js {
    alias $TEST_NGINX_HLS_JS;
}
--- init
BarHls::Test::wait_playlist_ok('/live/bob/index.m3u8', 1, 15);
BarHls::Test::http_get('/live/bob/snapshot.jpg');
--- request
GET /live/
--- bar_check: gone
