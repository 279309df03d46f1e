# The live media playlist: tags, segment list, window, headers, prefixes.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

# One camera for the whole file: H.264 640x360 25 fps, a keyframe every
# second, AAC, digest auth.  Its frames are recorded: EXTINFs are compared
# with the GOPs it really sent (camera=...).
start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac', auth => 'digest',
             password => $PASSWORD, gop => 25, record => 1);

our %Seen;

# TEST 1 remembers the segments it saw, TEST 2 compares.
sub check_remember {
    my ($block, $body) = @_;
    my $pl = parse_playlist($body) or return;
    $Seen{$_->{msn}} = $_ for @{ $pl->{segments} };
}

sub check_advanced {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_playlist($body);
    my @old = sort { $a <=> $b } keys %Seen;
    my @new = map { $_->{msn} } @{ $pl->{segments} };
    ok(@old && @new && $new[-1] >= $old[-1] + 2,
       "$name - newer segments were added (last $old[-1] -> $new[-1])");
    my @changed = grep {
        my $o = $Seen{$_->{msn}};
        $o && ($o->{pdt_text} ne $_->{pdt_text} || $o->{extinf} ne $_->{extinf})
    } @{ $pl->{segments} };
    ok(!@changed, "$name - segments still listed kept their PDT and EXTINF")
        or diag(join ' ', map $_->{uri}, @changed);
}

run_tests();

__DATA__

=== TEST 1: default parameters: 2 s segments in a fMP4 playlist
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 3, 15);
--- request
GET /live/ale/index.m3u8
--- response_headers_like
Content-Type: application/vnd\.apple\.mpegurl
Cache-Control: \S.*
--- response_body_like
\A#EXTM3U
#EXT-X-VERSION:\d+
#EXT-X-TARGETDURATION:2
(#EXT-X-[A-Z-]+:\S+\n)*#EXT-X-MEDIA-SEQUENCE:(?<seq>\d+)
(#EXT-X-[A-Z-]+(:\S+)?\n)*#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI="init-[0-9a-z]+\.mp4"
#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z
(#EXT-X-PART:\S+\n)*#EXTINF:[12]\.\d{3},
seg-\k<seq>\.m4s
#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z
(#EXT-X-PART:\S+\n)*#EXTINF:[12]\.\d{3},
seg-\d+\.m4s
#EXT-X-PROGRAM-DATE-TIME:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z
(#EXT-X-PART:\S+\n)*#EXTINF:[12]\.\d{3},
seg-\d+\.m4s
--- bar_playlist: min=3 max=6 target=2 camera=TEST_NGINX_CAM_PORT segment=2
--- bar_check: remember
--- error_log eval
[qr/\[info\] .*bar_hls: camera "ale": pulling rtsp:\/\/\*\*\*\@127\.0\.0\.1:\d+\/stream1$/,
 qr/\[notice\] .*bar_hls: camera "ale": streaming 640x360 avc1\.42c01e,mp4a\.40\.2$/]
--- no_error_log
[error]



=== TEST 2: the playlist keeps updating, listed segments do not change
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 5, 15);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=5 max=6 target=2 camera=TEST_NGINX_CAM_PORT segment=2
--- bar_check: advanced
--- no_error_log
[error]



=== TEST 3: HEAD gives the headers without the body
--- request
HEAD /live/ale/index.m3u8
--- response_headers_like
Content-Type: application/vnd\.apple\.mpegurl
Content-Length: [1-9]\d+
--- response_body eval
""
--- no_error_log
[error]



=== TEST 4: window=2, segment=1s: the oldest segments leave the playlist, but three target durations stay (RFC 8216bis 6.2.2)
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s window=2;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_sequence_ok('/live/ale/index.m3u8', 3, 20, 3);
--- request
GET /live/ale/index.m3u8
--- response_body_like: \A#EXTM3U\n#EXT-X-VERSION:\d+\n#EXT-X-TARGETDURATION:1\n
--- bar_playlist: min=3 max=4 target=1 camera=TEST_NGINX_CAM_PORT segment=1
--- no_error_log
[error]



=== TEST 5: any location prefix; several cameras in one zone
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera front rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s;
bar_hls_camera Back_Door-2 rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s;
--- config
location /some/deeper/prefix/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/some/deeper/prefix/front/index.m3u8', 2, 15);
BarHls::Test::wait_playlist_ok('/some/deeper/prefix/Back_Door-2/index.m3u8', 2, 15);
--- request
GET /some/deeper/prefix/Back_Door-2/index.m3u8
--- response_headers_like
Content-Type: application/vnd\.apple\.mpegurl
--- bar_playlist: min=2 target=1 camera=TEST_NGINX_CAM_PORT segment=1
--- error_log
bar_hls: camera "front": streaming 640x360
bar_hls: camera "Back_Door-2": streaming 640x360
--- no_error_log
[error]



=== TEST 6: the other camera of the same zone is served too
--- request
GET /some/deeper/prefix/front/index.m3u8
--- bar_playlist: min=2 target=1 camera=TEST_NGINX_CAM_PORT segment=1
--- no_error_log
[error]



=== TEST 7: a regex location: camera and file are the last two components
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s;
--- config
location ~ ^/cams/[^/]+/[^/]+$ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/cams/ale/index.m3u8', 1, 15);
--- request
GET /cams/ale/index.m3u8
--- bar_playlist: min=1 target=1 camera=TEST_NGINX_CAM_PORT segment=1
--- no_error_log
[error]



=== TEST 8: part=off: a plain version 7 playlist, no Low-Latency HLS tags
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s part=off;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
--- request
GET /live/ale/index.m3u8
--- response_body_like: \A#EXTM3U\n#EXT-X-VERSION:7\n(?!.*#EXT-X-(PART|PART-INF|PRELOAD-HINT|SERVER-CONTROL)[:,])
--- bar_playlist: min=2 target=1 camera=TEST_NGINX_CAM_PORT segment=1
--- no_error_log
[error]
