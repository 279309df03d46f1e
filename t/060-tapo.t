# The camera this project is for: a TP-Link Tapo (H.264 High 1280x720,
# 15 fps, a key frame every 2 s, G.711 A-law 8 kHz mono, digest auth).
# Its audio is transcoded to AAC-LC and heard at the camera's level: by
# ffmpeg decoding the live playlist, and by headless Chromium playing it
# through hls.js and natively (Web Audio measures what it plays).
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

my $Root = repo_root();
my $Chromium = $ENV{CHROMIUM} || '/usr/bin/chromium';

# the camera's tone: 1 kHz at half the full scale (scripts/fake-camera)
my $TONE_RMS = $BarHls::Audio::TONE_RMS;
my $TONE_PEAK = $BarHls::Audio::TONE_PEAK;

start_camera(env => 'TEST_NGINX_TAPO_PORT', codec => 'h264', profile => 'high',
             size => '1280x720', fps => 15, gop => 30, audio => 'pcma',
             auth => 'digest', password => $PASSWORD, record => 1);

sub check_tapo {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $streams = ffprobe_streams('/live/tapo/index.m3u8') || [];
    my ($v) = grep { $_->{codec_type} eq 'video' } @$streams;
    my ($a) = grep { $_->{codec_type} eq 'audio' } @$streams;
    is($v && "$v->{codec_name} $v->{profile} $v->{width}x$v->{height}",
       'h264 High 1280x720', "$name - ffprobe: H.264 High 1280x720, copied");
    is($a && "$a->{codec_name} $a->{profile} $a->{sample_rate} $a->{channels}",
       'aac LC 48000 1', "$name - ffprobe: AAC-LC 48 kHz mono");
    my $res = http_get('/live/status');
    my $st = eval { JSON::PP::decode_json($res->{content}) } || {};
    my $cam = $st->{cameras}{tapo} || {};
    like($cam->{codecs} // '', qr/^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/,
         "$name - status: CODECS " . ($cam->{codecs} // 'none'));
}

# ffmpeg decodes the audio of the live playlist: the tone, at its level,
# all along
sub check_level {
    my ($block) = @_;
    my $name = $block->name;
    my $r = BarHls::Audio::tone('/live/tapo/index.m3u8', 8);
    diag(sprintf 'measure: decoded HLS audio: %.2f s, RMS %.2f dBFS, peak '
         . '%.2f dBFS, %.0f Hz, %d of %d 100 ms windows at the level',
         @$r{qw(seconds rms peak hz good windows)});
    is($r->{rc}, 0, "$name - ffmpeg decodes 8 s of the playlist's audio") or diag($r->{err});
    ok($r->{seconds} >= 7, "$name - 7 s of audio or more");
    ok(abs($r->{rms} - $TONE_RMS) < 1, sprintf "$name - RMS level $TONE_RMS dBFS +-1 (%.2f)", $r->{rms});
    ok(abs($r->{peak} - $TONE_PEAK) < 1,
       sprintf "$name - peak level $TONE_PEAK dBFS +-1 (%.2f)", $r->{peak});
    ok(abs($r->{hz} - 1000) < 10, sprintf "$name - a 1 kHz tone (%.0f Hz)", $r->{hz});
    ok($r->{windows} && $r->{good} == $r->{windows},
       "$name - at its level in every 100 ms ($r->{good} of $r->{windows})");
}


# headless Chromium: t/lib/sound.mjs plays and listens
sub chromium_missing {
    my @missing = grep { !-e $_->[1] } (
        ['node', '/usr/bin/node'],
        ['Chromium', $Chromium],
        ['node_modules/hls.js (npm ci)', "$Root/node_modules/hls.js/dist/hls.min.js"],
        ['node_modules/playwright-core (npm ci)',
         "$Root/node_modules/playwright-core/package.json"],
    );
    return join ', ', map { $_->[0] } @missing;
}

sub check_chromium {
    my ($block) = @_;
    my $name = $block->name;
    my %o = ($block->bar_sound // '') =~ /(\w+)=(\S+)/g;
    SKIP: {
        my $missing = chromium_missing();
        skip("$name - no $missing", 6) if $missing;
        my ($rc, $out, $err) = BarHls::Test::run_cmd(
            ['node', "$Root/t/lib/sound.mjs", '--url',
             nginx_url('/live/tapo/index.m3u8'), '--engine', $o{engine},
             '--seconds', 12, '--chromium', $Chromium], 120);
        my $r = eval { JSON::PP::decode_json($out) } || {};
        diag("measure: Chromium $o{engine}: played $r->{played_s} s of "
             . "$r->{size}, level median $r->{level_median} dBFS, "
             . "max $r->{level_max} dBFS, $r->{audio_bytes} audio bytes")
            if defined $r->{played_s};
        is($rc, 0, "$name - it played") or diag("$err\n$out");
        is($r->{size}, '1280x720', "$name - 1280x720 on screen");
        ok(($r->{audio_bytes} // 0) > 0, "$name - audio decoded ("
                                       . ($r->{audio_bytes} // 0) . ' bytes)');
        ok(defined $r->{level_median} && abs($r->{level_median} - $TONE_RMS) < 1.5,
           "$name - heard at $TONE_RMS dBFS +-1.5 ("
           . ($r->{level_median} // 'silence') . ')');
        ok(($r->{loud_samples} // 0) >= 0.8 * ($r->{samples} || 1),
           "$name - heard all along ($r->{loud_samples} of $r->{samples} samples)");
        my @fatal = grep { $_->{fatal} } @{ $r->{errors} || [] };
        is(scalar @fatal, 0, "$name - no fatal error")
            or diag(JSON::PP->new->canonical->encode(\@fatal));
    }
}

run_tests();

__DATA__

=== TEST 1: a Tapo streams with sound: H.264 copied, G.711 A-law transcoded to AAC-LC
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera tapo rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_TAPO_PORT/stream1;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Test::wait_playlist_ok('/live/tapo/index.m3u8', 3, 20);
--- request
GET /live/tapo/index.m3u8
--- bar_playlist: min=3 target=2 camera=TEST_NGINX_TAPO_PORT segment=2
--- bar_check: tapo
--- error_log eval
[qr/\[info\] .*bar_hls: camera "tapo": audio pcm_alaw 8000 Hz, 1 channel\(s\), transcoded to AAC-LC 48000 Hz/,
 qr/\[notice\] .*bar_hls: camera "tapo": streaming 1280x720 avc1\.64\w+,mp4a\.40\.2$/]
--- no_error_log
is not carried



=== TEST 2: the camera's tone, at its level, in the decoded HLS audio
--- init
BarHls::Test::wait_playlist_ok('/live/tapo/index.m3u8', 5, 30);
--- request
GET /live/tapo/index.m3u8
--- bar_check: level



=== TEST 3: Chromium plays it with sound through hls.js
--- request
GET /live/tapo/index.m3u8
--- bar_sound: engine=hlsjs
--- bar_check: chromium
--- timeout: 150



=== TEST 4: Chromium plays it with sound natively
--- request
GET /live/tapo/index.m3u8
--- bar_sound: engine=native
--- bar_check: chromium
--- timeout: 150
