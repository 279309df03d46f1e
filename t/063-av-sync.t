# Audio and video stay in sync: the offset between the camera's picture
# flips and its audio ticks (t/lib/BarHls/Sync.pm), measured through the
# live playlist, is the one measured straight from the camera, within
# 50 ms; it does not drift while the stream runs, and it is right again
# after the camera comes back.  Audio transcoded (G.711, Opus with
# H.265) and copied (AAC); fMP4 and MPEG-TS.
#
# BAR_HLS_SYNC_SECONDS (default 30) is how long the drift is watched:
# 600 gives the 10 minutes of issue 12.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Sync;
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

my $LONG = $ENV{BAR_HLS_SYNC_SECONDS} || 30;
my $MAX_ERROR = 0.050;

my %Cam;
my %opts = (size => '320x240', fps => 25, gop => 25);
$Cam{pcma} = start_camera(env => 'TEST_NGINX_PCMA_PORT', audio => 'pcma',
                          sync_marks => 1, %opts);
$Cam{aac} = start_camera(env => 'TEST_NGINX_AAC_PORT', audio => 'aac',
                         sync_marks => 1, %opts);
$Cam{opus} = start_camera(env => 'TEST_NGINX_OPUS_PORT', audio => 'opus',
                          codec => 'h265', sync_marks => 1, %opts);

# the camera's own offset, measured once per camera process (a camera
# started again is measured again)
my %Ref;

# the offset through nginx against the camera's own
sub sync_ok {
    my ($name, $cam, $path, $secs) = @_;
    my $ref = $Ref{"$Cam{$cam}"}
        //= BarHls::Sync::measure("rtsp://127.0.0.1:$Cam{$cam}{port}/stream1", 8);
    my $got = BarHls::Sync::measure($path, $secs);
    my $r = BarHls::Sync::median(@{ $ref->{offsets} });
    my $g = BarHls::Sync::median(@{ $got->{offsets} });
    my @o = sort { $a <=> $b } @{ $got->{offsets} };
    diag(sprintf "measure: %s: camera %s ms, through nginx %s ms (%d pairs, "
         . "%s to %s ms)", $name, map({ defined $_ ? sprintf('%.0f', $_ * 1000) : '?' }
                                      $r, $g), scalar @o,
         map { defined $_ ? sprintf('%.0f', $_ * 1000) : '?' } $o[0], $o[-1]);
    ok(@{ $ref->{offsets} } >= 2, "$name - the camera's own offset measured")
        or diag($ref->{err});
    ok(@o >= $secs / 3, "$name - " . scalar(@o) . " flips and ticks paired in $secs s")
        or diag("$got->{flips} flips, $got->{ticks} ticks; $got->{err}");
    ok(defined $r && defined $g && abs($g - $r) < $MAX_ERROR,
       "$name - in sync with the camera within 50 ms");
    # one frame of the picture's own quantisation, and the tick's 5 ms
    ok(@o && $o[-1] - $o[0] < 0.045, "$name - no drift: every pair within 45 ms");
}

sub check_sync {
    my ($block) = @_;
    my %o = ($block->bar_sync // '') =~ /(\w+)=(\S+)/g;
    sync_ok($block->name . " ($o{cam})", $o{cam}, "/live/$o{path}/index.m3u8",
            $o{seconds} eq 'long' ? $LONG : $o{seconds});
}

# the camera goes away and comes back: a new session, a new RTCP sync
sub restart_pcma {
    my $port = $Cam{pcma}{port};
    stop_camera($Cam{pcma});
    $Cam{pcma} = start_camera(port => $port, audio => 'pcma', sync_marks => 1,
                              %opts);
}

# the playlist lists 3 segments of the new session
sub three_after_discontinuity {
    my ($text) = @_;
    my $i = rindex $text, "#EXT-X-DISCONTINUITY\n";
    return $i >= 0 && (() = substr($text, $i) =~ /^seg-\d+\.m4s$/mg) >= 3;
}

run_tests();

__DATA__

=== TEST 1: G.711 transcoded to AAC, in sync with the video
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera pcma rtsp://127.0.0.1:$TEST_NGINX_PCMA_PORT/stream1 timeout=2s;
bar_hls_camera aac rtsp://127.0.0.1:$TEST_NGINX_AAC_PORT/stream1;
bar_hls_camera opus rtsp://127.0.0.1:$TEST_NGINX_OPUS_PORT/stream1;
bar_hls_camera pcmats rtsp://127.0.0.1:$TEST_NGINX_PCMA_PORT/stream1 variant=mpegts;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok("/live/$_/index.m3u8", 3, 20) for qw(pcma aac opus);
--- request
GET /live/pcma/index.m3u8
--- bar_sync: cam=pcma path=pcma seconds=12
--- bar_check: sync
--- timeout: 90



=== TEST 2: AAC copied, in sync with the video
--- request
GET /live/aac/index.m3u8
--- bar_sync: cam=aac path=aac seconds=12
--- bar_check: sync
--- timeout: 90



=== TEST 3: Opus transcoded to AAC beside H.265, in sync
--- request
GET /live/opus/index.m3u8
--- bar_sync: cam=opus path=opus seconds=12
--- bar_check: sync
--- timeout: 90



=== TEST 4: MPEG-TS, in sync
--- request
GET /live/pcmats/index.m3u8
--- bar_sync: cam=pcma path=pcmats seconds=12
--- bar_check: sync
--- timeout: 90



=== TEST 5: the camera comes back (a new session): in sync again
--- init
main::restart_pcma();
BarHls::Test::wait_playlist_ok('/live/pcma/index.m3u8', 3, 30,
                               \&main::three_after_discontinuity);
--- request
GET /live/pcma/index.m3u8
--- bar_sync: cam=pcma path=pcma seconds=12
--- bar_check: sync
--- timeout: 120



=== TEST 6: no drift while it runs (BAR_HLS_SYNC_SECONDS)
--- request
GET /live/pcma/index.m3u8
--- bar_sync: cam=pcma path=pcma seconds=long
--- bar_check: sync
--- timeout: 900
