# Error responses: 404 for unknown cameras, bad file names, evicted and
# future segments; 503 + Retry-After before a camera's first segment; 405
# for methods other than GET and HEAD.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac', gop => 25);

# nothing listens there: that camera never gets media
$ENV{TEST_NGINX_DEAD_PORT} = free_port();

my $Live = '/live/ale/index.m3u8';

# the segment TEST 1 saw first (and fetched: 200) is gone once 5 newer ones
# came (window=2, three more kept): no longer listed, and 404; the
# segments listed now are there
sub check_evicted {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $gone = $BarHls::Test::Stash{evicted};
    ok($gone, "$name - TEST 1 saw a segment") or return;
    my ($msn) = $gone =~ /seg-(\d+)\.m4s$/;
    my @now = playlist_msns($body);
    ok(@now && $now[0] >= $msn + 5, "$name - 5 newer segments since seg-$msn.m4s (listed now: @now)");
    is(http_get($gone)->{status}, 404, "$name - evicted $gone: 404");
    for my $n (@now) {
        is(http_get("/live/ale/seg-$n.m4s")->{status}, 200,
           "$name - listed seg-$n.m4s: 200");
    }
}

# the segment after the newest listed one is not complete yet: 404, at
# once (not held: the block timeout is 10 s)
sub check_future {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($last) = (playlist_msns($body))[-1];
    ok(defined $last, "$name - the playlist lists segments") or return;
    for my $msn ($last + 1, $last + 2, $last + 1000) {
        my $t0 = Time::HiRes::time();
        my $res = http_get("/live/ale/seg-$msn.m4s");
        my $took = Time::HiRes::time() - $t0;
        is($res->{status}, 404, "$name - future seg-$msn.m4s: 404");
        ok($took < 5, sprintf "$name - future seg-$msn.m4s: answered at once (%.3fs)", $took);
    }
}

run_tests();

__DATA__

=== TEST 1: a live camera and a camera without media
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s window=2;
bar_hls_camera dead rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1;
--- config
location /live/ {
    bar_hls;
}
--- init
my $pl = BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 1, 15);
my ($first) = BarHls::Test::playlist_msns($pl);
$BarHls::Test::Stash{evicted} = "/live/ale/seg-$first.m4s";
Test::More::is(BarHls::Test::http_get("/live/ale/seg-$first.m4s")->{status}, 200,
               "seg-$first.m4s is there while it is listed");
BarHls::Test::wait_sequence_ok('/live/ale/index.m3u8', 5, 20, 2);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 max=4 target=1
--- error_log eval
qr/\[error\] .*bar_hls: camera "dead": .*Connection refused/



=== TEST 2: an evicted segment: 404
--- request
GET /live/ale/index.m3u8
--- bar_check: evicted



=== TEST 3: future segments: 404
--- request
GET /live/ale/index.m3u8
--- bar_check: future



=== TEST 4: a segment number beyond any camera's reach: 404
--- request
GET /live/ale/seg-999999999999999.m4s
--- error_code: 404



=== TEST 5: unknown camera
--- request
GET /live/nosuch/index.m3u8
--- error_code: 404



=== TEST 6: unknown camera, init segment
--- request
GET /live/nosuch/init.mp4
--- error_code: 404



=== TEST 7: camera names are matched exactly (case)
--- request
GET /live/ALE/index.m3u8
--- error_code: 404



=== TEST 8: invalid camera name
--- request
GET /live/bad.name/index.m3u8
--- error_code: 404



=== TEST 9: camera name longer than 64 characters
--- request
GET /live/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/index.m3u8
--- error_code: 404



=== TEST 10: unknown file name
--- request
GET /live/ale/index.m3u
--- error_code: 404



=== TEST 11: file name with a suffix
--- request
GET /live/ale/index.m3u8x
--- error_code: 404



=== TEST 12: upper case file name
--- request
GET /live/ale/INDEX.M3U8
--- error_code: 404



=== TEST 13: segment number not a number
--- request
GET /live/ale/seg-abc.m4s
--- error_code: 404



=== TEST 14: segment number missing
--- request
GET /live/ale/seg-.m4s
--- error_code: 404



=== TEST 15: segment number with a sign
--- request
GET /live/ale/seg--1.m4s
--- error_code: 404



=== TEST 16: segment number with a leading zero
--- request
GET /live/ale/seg-01.m4s
--- error_code: 404



=== TEST 17: segment number overflowing 64 bits
--- request
GET /live/ale/seg-99999999999999999999999999.m4s
--- error_code: 404



=== TEST 18: segment with the init extension
--- request
GET /live/ale/seg-1.mp4
--- error_code: 404



=== TEST 19: init segment version that is not hexadecimal
--- request
GET /live/ale/init-zzzzzzzz.mp4
--- error_code: 404



=== TEST 20: init segment version that never existed
--- request
GET /live/ale/init-00000000.mp4
--- error_code: 404



=== TEST 21: no file name
--- request
GET /live/ale/
--- error_code: 404



=== TEST 22: camera directory without a slash
--- request
GET /live/ale
--- error_code: 404



=== TEST 23: the location itself
--- request
GET /live/
--- error_code: 404



=== TEST 24: one path component too many
--- request
GET /live/ale/x/index.m3u8
--- error_code: 404



=== TEST 25: before the first segment: 503, Retry-After, a text/plain reason
--- request
GET /live/dead/index.m3u8
--- error_code: 503
--- response_headers
Retry-After: 1
Content-Type: text/plain
--- response_body_like: has no media yet



=== TEST 26: before the first segment: init.mp4 is 503 too
--- request
GET /live/dead/init.mp4
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body_like: has no media yet



=== TEST 27: before the first segment: HEAD
--- request
HEAD /live/dead/index.m3u8
--- error_code: 503
--- response_headers
Retry-After: 1
--- response_body eval
""



=== TEST 28: POST is not allowed
--- request
POST /live/ale/index.m3u8
hello
--- error_code: 405



=== TEST 29: PUT is not allowed
--- request
PUT /live/ale/init.mp4
hello
--- error_code: 405



=== TEST 30: DELETE is not allowed, unknown camera or not
--- request
DELETE /live/nosuch/index.m3u8
--- error_code: 405



=== TEST 31: after all that, the live camera is still served
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 max=4 target=1
--- no_error_log
[alert]
[crit]
