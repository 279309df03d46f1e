# audio=auto|copy|aac|off on bar_hls_camera: with auto (the default) AAC
# is copied and G.711 mu-law and Opus are transcoded to AAC-LC, at the
# camera's level; copy drops what is not AAC, aac transcodes AAC too,
# off drops the audio.  A value that is none of these is refused.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Audio;
use Test::Nginx::Socket 'no_plan';

use JSON::PP ();

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

my %small = (size => '320x240', fps => 15, gop => 15);
start_camera(env => 'TEST_NGINX_PCMU_PORT', audio => 'pcmu', %small);
start_camera(env => 'TEST_NGINX_OPUS_PORT', audio => 'opus', %small);
start_camera(env => 'TEST_NGINX_AAC_PORT', audio => 'aac', %small);
start_camera(env => 'TEST_NGINX_PCMA_PORT', audio => 'pcma', %small);

sub status_of {
    my ($cam) = @_;
    my $res = http_get('/live/status');
    my $st = eval { JSON::PP::decode_json($res->{content}) } || {};
    return $st->{cameras}{$cam} || {};
}

# --- bar_audio: cam=mulaw streams=aac:48000:1 codecs=mp4a.40.2 [tone=1]
sub check_audio {
    my ($block) = @_;
    my $name = $block->name;
    my %o = ($block->bar_audio // '') =~ /(\w+)=(\S+)/g;
    my $streams = ffprobe_streams("/live/$o{cam}/index.m3u8") || [];
    my $got = join ' ', map { "$_->{codec_name}:$_->{sample_rate}:$_->{channels}" }
                        grep { $_->{codec_type} eq 'audio' } @$streams;
    is($got, $o{streams} eq 'none' ? '' : $o{streams}, "$name - ffprobe: audio $o{streams}");
    my $codecs = status_of($o{cam})->{codecs} // '';
    is($codecs =~ s/^[^,]*,?//r, $o{codecs} eq 'none' ? '' : $o{codecs},
       "$name - status: CODECS $codecs");
    return unless $o{tone};
    my $r = BarHls::Audio::tone("/live/$o{cam}/index.m3u8", 6);
    diag(sprintf "measure: %s: RMS %.2f dBFS, peak %.2f dBFS, %.0f Hz",
         $o{cam}, @$r{qw(rms peak hz)});
    ok(abs($r->{rms} - $BarHls::Audio::TONE_RMS) < 1
       && abs($r->{peak} - $BarHls::Audio::TONE_PEAK) < 1
       && abs($r->{hz} - 1000) < 10 && $r->{windows} && $r->{good} == $r->{windows},
       "$name - the camera's tone at its level, all along");
}

run_tests();

__DATA__

=== TEST 1: audio=auto: G.711 mu-law transcoded
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera mulaw rtsp://127.0.0.1:$TEST_NGINX_PCMU_PORT/stream1;
bar_hls_camera opus rtsp://127.0.0.1:$TEST_NGINX_OPUS_PORT/stream1 audio=auto;
bar_hls_camera aac rtsp://127.0.0.1:$TEST_NGINX_AAC_PORT/stream1;
bar_hls_camera aac2aac rtsp://127.0.0.1:$TEST_NGINX_AAC_PORT/stream1 audio=aac;
bar_hls_camera copy rtsp://127.0.0.1:$TEST_NGINX_PCMA_PORT/stream1 audio=copy;
bar_hls_camera off rtsp://127.0.0.1:$TEST_NGINX_AAC_PORT/stream1 audio=off;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Test::wait_playlist_ok("/live/$_/index.m3u8", 4, 20)
    for qw(mulaw opus aac aac2aac copy off);
--- request
GET /live/mulaw/index.m3u8
--- bar_audio: cam=mulaw streams=aac:48000:1 codecs=mp4a.40.2 tone=1
--- bar_check: audio
--- error_log eval
qr/\[info\] .*bar_hls: camera "mulaw": audio pcm_mulaw 8000 Hz, 1 channel\(s\), transcoded to AAC-LC 48000 Hz/
--- timeout: 60



=== TEST 2: audio=auto: Opus transcoded
--- request
GET /live/opus/index.m3u8
--- bar_audio: cam=opus streams=aac:48000:2 codecs=mp4a.40.2 tone=1
--- bar_check: audio
--- error_log eval
qr/\[info\] .*bar_hls: camera "opus": audio opus 48000 Hz, 2 channel\(s\), transcoded to AAC-LC 48000 Hz/
--- timeout: 60



=== TEST 3: audio=auto: AAC copied, never re-encoded
--- request
GET /live/aac/index.m3u8
--- bar_audio: cam=aac streams=aac:44100:1 codecs=mp4a.40.2 tone=1
--- bar_check: audio
--- no_error_log
camera "aac": audio
--- timeout: 60



=== TEST 4: audio=aac: AAC transcoded too
--- request
GET /live/aac2aac/index.m3u8
--- bar_audio: cam=aac2aac streams=aac:44100:1 codecs=mp4a.40.2 tone=1
--- bar_check: audio
--- error_log eval
qr/\[info\] .*bar_hls: camera "aac2aac": audio aac 44100 Hz, 1 channel\(s\), transcoded to AAC-LC 44100 Hz/
--- timeout: 60



=== TEST 5: audio=copy: G.711 A-law is not AAC: video only
--- request
GET /live/copy/index.m3u8
--- bar_audio: cam=copy streams=none codecs=none
--- bar_check: audio
--- error_log eval
qr/bar_hls: camera "copy": audio pcm_alaw is not AAC and audio=copy: streaming video only/



=== TEST 6: audio=off: no audio
--- request
GET /live/off/index.m3u8
--- bar_audio: cam=off streams=none codecs=none
--- bar_check: audio
--- no_error_log
camera "off": audio



=== TEST 7: audio= takes auto, copy, aac or off
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:1/stream1 audio=mp3;
--- config
location /live/ {
    bar_hls;
}
--- must_die
--- suppress_stderr
--- error_log
[emerg]
bar_hls: camera "ale": invalid value "audio=mp3"
