# A real player: hls.js in headless Chromium (bench/player.mjs) plays the
# live stream from another origin (CORS), in Low-Latency HLS and in
# classic HLS.  Skipped (loudly) when node, Chromium or node_modules are
# missing; with CI=true it fails then.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use Test::Nginx::Socket;

use IPC::Run ();
use JSON::PP ();

my $Root = repo_root();
my $Chromium = $ENV{CHROMIUM} || '/usr/bin/chromium';
require_tools(
    ['node', '/usr/bin/node'],
    ['Chromium', $Chromium],
    ['bench/player.mjs', "$Root/bench/player.mjs"],
    ['node_modules/hls.js (npm ci)', "$Root/node_modules/hls.js/dist/hls.min.js"],
    ['node_modules/playwright-core (npm ci)', "$Root/node_modules/playwright-core/package.json"],
);
plan 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac', gop => 25);

# --- bar_check: player  with --- bar_player: low-latency=on max_latency=4
sub check_player {
    my ($block) = @_;
    my $name = $block->name;
    my %o = ($block->bar_player // '') =~ /([\w-]+)=(\S+)/g;
    my $secs = $o{seconds} // 10;
    my ($out, $err) = ('', '');
    my @cmd = ('node', "$Root/bench/player.mjs", '--url', nginx_url('/live/ale/index.m3u8'),
               '--seconds', $secs, '--low-latency', $o{'low-latency'} // 'on',
               '--chromium', $Chromium, '--quiet');
    my $ran = eval {
        IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
                      IPC::Run::timeout($secs + 90));
        1;
    };
    my $rc = $ran ? $? >> 8 : -1;
    my $r = eval { JSON::PP::decode_json($out) } || {};
    is($rc, 0, "$name - the player played (exit code)") or diag("$err\n$out");
    ok($r->{ok}, "$name - the player says ok");
    is($r->{fatal_errors}, 0, "$name - no fatal hls.js error")
        or diag(JSON::PP->new->canonical->encode($r->{fatal_details} || []));
    is(scalar @{ $r->{http_errors} || [] }, 0, "$name - no HTTP error (CORS included)")
        or diag(JSON::PP->new->canonical->encode($r->{http_errors}));
    is($r->{resolution}, '640x360', "$name - 640x360 on screen");
    ok(($r->{played_s} // 0) > $secs / 2, "$name - played more than half the time ("
                                         . ($r->{played_s} // 0) . ' s)');
    # (generous bounds against a hang: Chromium shares 2 loaded cores)
    ok(defined $r->{startup_s} && $r->{startup_s} < 20,
       "$name - playing within 20 s (" . ($r->{startup_s} // 'never') . ')');
    ok(($r->{stall_seconds} // 99) <= 3, "$name - stalled at most 3 s ("
                                        . ($r->{stall_seconds} // '?') . ' s)');
    my $lat = $r->{latency} && $r->{latency}{median};
    ok(defined $lat && $lat < $o{max_latency},
       "$name - median latency below $o{max_latency} s (" . ($lat // 'none') . ')');
}

run_tests();

__DATA__

=== TEST 1: Low-Latency HLS (parts, blocking reloads): latency under 5 s (classic HLS: ~7 s)
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
--- request
GET /live/ale/index.m3u8
--- bar_player: low-latency=on seconds=10 max_latency=5
--- bar_check: player
--- no_error_log
[error]



=== TEST 2: classic HLS (part=off): 2 s segments, latency under 20 s
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 part=off;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 3, 15);
--- request
GET /live/ale/index.m3u8
--- bar_player: low-latency=off seconds=10 max_latency=20
--- bar_check: player
--- no_error_log
[error]
