# Cameras that refuse us, go away, or stall: errors are logged (never the
# password), the others keep streaming, and a camera that comes back is
# streamed again with the sequence going on and a discontinuity.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

# wants another password than the one nginx.conf has
start_camera(env => 'TEST_NGINX_LOCKED_PORT', auth => 'digest', password => 'other-pw-9');
our $Flaky = start_camera(env => 'TEST_NGINX_FLAKY_PORT', auth => 'basic',
                          password => $PASSWORD, gop => 25);
our $Stall = start_camera(env => 'TEST_NGINX_STALL_PORT', gop => 25);

# what the playlist of a camera looked like before its trouble
our %Before;

sub remember {
    my ($cam) = @_;
    my $text = BarHls::Test::wait_for_playlist("/live/$cam/index.m3u8", 2, 15);
    Test::More::ok($text, "$cam lists 2 segments before the trouble");
    $Before{$cam} = parse_playlist($text);
}

# the sequence goes on across the outage, with a discontinuity before the
# first segment of the new session
sub came_back_ok {
    my ($name, $cam, $body) = @_;
    my $old = $Before{$cam} or return fail("$name - no playlist before");
    my $new = parse_playlist($body);
    my $last = $old->{segments}[-1]{msn};
    my @segs = @{ $new->{segments} };
    ok($new->{sequence} >= $old->{sequence},
       "$name - EXT-X-MEDIA-SEQUENCE did not go back ($old->{sequence} -> $new->{sequence})");
    my @after = grep { $_->{msn} > $last } @segs;
    ok(@after >= 2, "$name - new segments after seg-$last.m4s (" . scalar(@after) . ')');
    my ($disc) = grep { $_->{discontinuity} } @segs;
    ok($disc && $disc->{msn} > $last,
       "$name - EXT-X-DISCONTINUITY before the first new segment"
       . ($disc ? " (seg-$disc->{msn}.m4s)" : ''));
    for my $seg (grep { $_->{msn} > $last } @segs[-2 .. -1]) {
        my $res = http_get("/live/$cam/$seg->{uri}");
        is($res->{status}, 200, "$name - new $seg->{uri}: 200");
        like(box_types($res->{content}), qr/^moof mdat/, "$name - new $seg->{uri}: media");
    }
}

sub check_flaky_back {
    my ($block, $body) = @_;
    came_back_ok($block->name, 'flaky', $body);
    my $s = camera_stats($Flaky);
    is("$s->{current} $s->{max}", '1 1', $block->name . ' - the restarted camera has one session');
    my $n = grep { /\[notice\] .*bar_hls: camera "flaky": streaming / } error_log_lines();
    is($n, 2, $block->name . ' - "streaming" is logged again');
}

sub check_stall_back {
    my ($block, $body) = @_;
    came_back_ok($block->name, 'stall', $body);
}

run_tests();

__DATA__

=== TEST 1: wrong password: 503, an error line without the password
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera locked rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_LOCKED_PORT/stream1 segment=1s;
bar_hls_camera nopath rtsp://admin:other-pw-9@127.0.0.1:$TEST_NGINX_LOCKED_PORT/no-such-stream segment=1s;
bar_hls_camera flaky rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_FLAKY_PORT/stream1 segment=1s;
bar_hls_camera stall rtsp://127.0.0.1:$TEST_NGINX_STALL_PORT/stream1 segment=1s timeout=2s;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_for_log(qr/camera "locked": authentication failed/, 10);
--- request
GET /live/locked/index.m3u8
--- error_code: 503
--- error_log eval
[qr/\[error\] .*bar_hls: camera "locked": authentication failed: .*, retrying in \d+ms$/,
 qr/\[info\] .*bar_hls: camera "locked": pulling rtsp:\/\/\*\*\*\@127\.0\.0\.1:\d+\/stream1$/]
--- no_error_log
other-pw-9
camera "locked": streaming



=== TEST 2: a wrong path: 503, an error line
--- init
BarHls::Test::wait_for_log(qr/\[error\] .*camera "nopath": /, 10);
--- request
GET /live/nopath/index.m3u8
--- error_code: 503
--- error_log eval
qr/\[error\] .*bar_hls: camera "nopath": .*retrying in \d+ms$/
--- no_error_log
camera "nopath": streaming



=== TEST 3: the good cameras stream meanwhile
--- init
BarHls::Test::wait_playlist_ok('/live/flaky/index.m3u8', 2, 15);
BarHls::Test::wait_playlist_ok('/live/stall/index.m3u8', 2, 15);
--- request
GET /live/flaky/index.m3u8
--- bar_playlist: min=2 target=1
--- error_log
bar_hls: camera "flaky": streaming 640x360
bar_hls: camera "stall": streaming 640x360



=== TEST 4: the camera goes away and comes back on the same port
--- init
main::remember('flaky');
my $mark = BarHls::Test::error_log_mark();
BarHls::Test::stop_camera($main::Flaky);
Test::More::ok(BarHls::Test::wait_for_log(qr/\[error\] .*camera "flaky": /, 15, $mark),
               'the lost camera is logged');
$main::Flaky = BarHls::Test::start_camera(port => $main::Flaky->{port}, auth => 'basic',
                                          password => $BarHls::Test::PASSWORD, gop => 25);
my $last = $main::Before{flaky}{segments}[-1]{msn};
BarHls::Test::wait_playlist_ok('/live/flaky/index.m3u8', 2, 30, sub {
    (grep { $_ > $last + 2 } BarHls::Test::playlist_msns($_[0])) >= 2 });
--- request
GET /live/flaky/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: flaky_back
--- error_log eval
qr/\[error\] .*bar_hls: camera "flaky": .*retrying in \d+ms$/



=== TEST 5: the camera stalls (no data, connection open) and resumes
--- init
main::remember('stall');
my $mark = BarHls::Test::error_log_mark();
BarHls::Test::pause_camera($main::Stall);
my $logged = BarHls::Test::wait_for_log(qr/\[error\] .*camera "stall": timed out/, 10, $mark);
BarHls::Test::resume_camera($main::Stall);
Test::More::ok($logged, 'the stall is logged within 10 s (timeout=2s)');
my $last = $main::Before{stall}{segments}[-1]{msn};
BarHls::Test::wait_playlist_ok('/live/stall/index.m3u8', 2, 30, sub {
    (grep { $_ > $last + 2 } BarHls::Test::playlist_msns($_[0])) >= 2 });
--- request
GET /live/stall/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: stall_back
--- error_log eval
qr/\[error\] .*bar_hls: camera "stall": timed out.*retrying in \d+ms$/
