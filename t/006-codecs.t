# What the cameras send: audio other than AAC is transcoded to AAC (the
# rest of it in t/065-audio.t), video other than H.264 and H.265 is
# refused, other picture sizes and key frame intervals, frames cut into
# several slices.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Timing;
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

# (record: their frames are recorded, to compare the segments with)
start_camera(env => 'TEST_NGINX_PCMA_PORT', audio => 'pcma', record => 1);
start_camera(env => 'TEST_NGINX_MJPEG_PORT', codec => 'mjpeg', size => '320x240', fps => 10);
# a key frame every 2 s: segment=1s must still cut at key frames only
start_camera(env => 'TEST_NGINX_SMALL_PORT', size => '320x240', fps => 15, gop => 30,
             audio => 'aac', record => 1);
start_camera(env => 'TEST_NGINX_SLICED_PORT', sliced => 1, gop => 25, record => 1);

# ffprobe on the live playlist: exactly these streams
sub probe_ok {
    my ($name, $path, $want) = @_;
    my $streams = ffprobe_streams($path) || [];
    my $got = join ' ', map {
        $_->{codec_type} eq 'video' ? "$_->{codec_name}:$_->{width}x$_->{height}"
                                    : $_->{codec_name}
    } sort { $a->{codec_type} cmp $b->{codec_type} } @$streams;
    is($got, $want, "$name - ffprobe $path: $want");
}

# every listed segment decodes after its init segment, starts with a key
# frame and holds the frames the camera sent for it: its GOPs, matched by
# camera_segments_ok() (a frame more is one the module made up, a frame
# less one it lost)
sub segments_ok {
    my ($name, $dir, $body, $env) = @_;
    # a playlist of now: the response's may be seconds old, its first
    # segments evicted
    my $pl = parse_playlist(http_get("$dir/index.m3u8")->{content});
    my $cam = camera_on_port($env);
    my $spans = camera_segments_ok("$name - frames", $cam, $pl, segment => 1);
    ok($pl && @{ $pl->{segments} } >= 3, "$name - 3 segments or more to probe");
    for my $seg ($pl ? @{ $pl->{segments} } : ()) {
        my $p = probe_segment($dir, $seg->{map}, $seg->{uri});
        is("$p->{init_status} $p->{status}", '200 200', "$name - $seg->{uri} and its init: 200");
        is($p->{rc} . $p->{err}, '0', "$name - $seg->{uri}: ffprobe reads it without errors");
        is($p->{first_key}, 1, "$name - $seg->{uri}: starts with a key frame");
        my $span = $spans->{ $seg->{uri} } or next;
        is($p->{video} // 0, camera_span_frames($cam, @$span),
           "$name - $seg->{uri}: the frames the camera sent in its $seg->{duration} s");
    }
}

sub check_pcma {
    my ($block, $body) = @_;
    probe_ok($block->name, '/live/pcma/index.m3u8', 'aac h264:640x360');
}

sub check_small {
    my ($block, $body) = @_;
    segments_ok($block->name, '/live/small', $body, 'TEST_NGINX_SMALL_PORT');
    probe_ok($block->name, '/live/small/index.m3u8', 'aac h264:320x240');
}

sub check_sliced {
    my ($block, $body) = @_;
    my $name = $block->name;
    segments_ok($name, '/live/sliced', $body, 'TEST_NGINX_SLICED_PORT');
    probe_ok($name, '/live/sliced/index.m3u8', 'h264:640x360');
    my ($rc, $err) = ffmpeg_decode('/live/sliced/index.m3u8', 3);
    is("$rc $err", '0 ', "$name - ffmpeg decodes 3 s without errors");
}

run_tests();

__DATA__

=== TEST 1: PCMA audio is transcoded to AAC
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera pcma rtsp://127.0.0.1:$TEST_NGINX_PCMA_PORT/stream1 segment=1s;
bar_hls_camera mjpeg rtsp://127.0.0.1:$TEST_NGINX_MJPEG_PORT/stream1 segment=1s;
bar_hls_camera small rtsp://127.0.0.1:$TEST_NGINX_SMALL_PORT/stream1 segment=1s;
bar_hls_camera sliced rtsp://127.0.0.1:$TEST_NGINX_SLICED_PORT/stream1 segment=1s;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/pcma/index.m3u8', 2, 15);
BarHls::Test::wait_playlist_ok('/live/small/index.m3u8', 3, 15);
BarHls::Test::wait_playlist_ok('/live/sliced/index.m3u8', 3, 15);
--- request
GET /live/pcma/index.m3u8
--- bar_playlist: min=2 target=1 camera=TEST_NGINX_PCMA_PORT segment=1
--- bar_check: pcma
--- error_log eval
[qr/bar_hls: camera "pcma": audio pcm_alaw 8000 Hz, 1 channel\(s\), transcoded to AAC-LC 48000 Hz/,
 qr/\[notice\] .*bar_hls: camera "pcma": streaming 640x360 avc1\.\w+,mp4a\.40\.2$/]



=== TEST 2: MJPEG video is refused: an error, and no media
--- request
GET /live/mjpeg/index.m3u8
--- error_code: 503
--- response_headers
Retry-After: 1
--- error_log eval
qr/\[error\] .*bar_hls: camera "mjpeg": .*video codec mjpeg is not supported/
--- no_error_log
camera "mjpeg": streaming



=== TEST 3: 320x240 at 15 fps, a key frame every 2 s, segment=1s: 2 s segments
--- request
GET /live/small/index.m3u8
--- bar_playlist: min=3 target=2 camera=TEST_NGINX_SMALL_PORT segment=1
--- bar_check: small
--- error_log eval
qr/\[notice\] .*bar_hls: camera "small": streaming 320x240 avc1\.\w+,mp4a\.40\.2$/



=== TEST 4: frames in several slices
--- request
GET /live/sliced/index.m3u8
--- bar_playlist: min=3 target=1 camera=TEST_NGINX_SLICED_PORT segment=1
--- bar_check: sliced
--- error_log eval
qr/\[notice\] .*bar_hls: camera "sliced": streaming 640x360 avc1\.\w+$/
