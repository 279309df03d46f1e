# A camera that changes what it sends: its picture size in the middle of
# a session (new parameter sets in band: a new init segment after a
# discontinuity, a player keeps playing), and its codec across a reconnect
# (H.264 -> H.265 -> H.264: a new init segment, a discontinuity, the new
# CODECS; a player that starts then plays the new codec).
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use Test::Nginx::Socket 'no_plan';

use IPC::Run ();
use JSON::PP ();

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

my $Root = repo_root();
my $Chromium = $ENV{CHROMIUM} || '/usr/bin/chromium';

# the size changes 10 s after nginx connected
start_camera(env => 'TEST_NGINX_RESIZE_PORT', size => '320x240', fps => 15,
             gop => 15, audio => 'aac', resize_after => 10, resize_to => '160x120');
our $Switch = start_camera(env => 'TEST_NGINX_SWITCH_PORT', size => '320x240',
                           fps => 15, gop => 15, audio => 'aac');

sub status_of {
    my ($cam) = @_;
    my $res = http_get('/live/status');
    my $st = eval { JSON::PP::decode_json($res->{content}) } || {};
    return $st->{cameras}{$cam} || {};
}

# the playlist lists 2 segments after its last discontinuity
sub two_after_discontinuity {
    my ($text) = @_;
    my $i = rindex $text, "#EXT-X-DISCONTINUITY\n";
    return $i >= 0 && (() = substr($text, $i) =~ /^seg-\d+\.m4s$/mg) >= 2;
}

# GStreamer plays across the change, in the background of TEST 1
our ($GstOut, $GstErr, $Gst) = ('', '');
sub start_gstreamer {
    $Gst = IPC::Run::start(['/usr/bin/python3', "$Root/t/lib/gst-play.py",
                            nginx_url('/live/resize/index.m3u8'), 300, 40],
                           '<', \undef, '>', \$GstOut, '2>', \$GstErr,
                           IPC::Run::timeout(60));
}

# segments before and after the last discontinuity, their maps and sizes
sub sides {
    my ($cam, $body) = @_;
    my $pl = parse_playlist($body) or return;
    my @segs = @{ $pl->{segments} };
    my ($d) = grep { $segs[$_]{discontinuity} } reverse 0 .. $#segs;
    return unless defined $d && $d > 0;
    my %s;
    for my $side ([before => $segs[$d - 1]], [after => $segs[$d]]) {
        my $p = probe_segment("/live/$cam", $side->[1]{map}, $side->[1]{uri});
        my ($v) = grep { $_->{codec_type} eq 'video' } @{ $p->{streams} };
        $s{$side->[0]} = { %{ $side->[1] }, probe => $p, video => $v || {} };
    }
    return \%s;
}

sub check_resize {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $s = sides('resize', $body);
    ok($s, "$name - a discontinuity between segments") or return;
    isnt($s->{before}{map}, $s->{after}{map}, "$name - a new init segment after it "
                                             . "($s->{before}{map} -> $s->{after}{map})");
    is("$s->{before}{video}{width}x$s->{before}{video}{height}", '320x240',
       "$name - before: 320x240");
    is("$s->{after}{video}{width}x$s->{after}{video}{height}", '160x120',
       "$name - after: 160x120");
    is($s->{after}{probe}{first_key}, 1, "$name - after: a key frame first");
    is(http_get("/live/resize/$s->{before}{map}")->{status}, 200,
       "$name - the old init segment is still served");
    my $st = status_of('resize');
    is("$st->{width}x$st->{height}", '160x120', "$name - status: 160x120");
    my ($rc, undef, $err) = BarHls::Test::run_cmd(
        ['ffmpeg', '-nostdin', '-v', 'error', '-live_start_index', 0, '-i',
         nginx_url('/live/resize/index.m3u8'), '-t', 14, '-f', 'null', '-'], 60);
    is("$rc $err", '0 ', "$name - ffmpeg decodes across the change without an error");
    $Gst->finish if $Gst;
    my $r = eval { JSON::PP::decode_json($GstOut) } || {};
    diag("measure: GStreamer across the change: $r->{frames} frames in $r->{seconds} s")
        if defined $r->{frames};
    ok(($r->{frames} // 0) >= 300 && !@{ $r->{errors} || [1] },
       "$name - GStreamer played on across it: " . ($r->{frames} // 0) . ' frames')
        or diag("$GstErr\n$GstOut");
    like($r->{caps} // '', qr/width=\(int\)160, height=\(int\)120/,
         "$name - GStreamer shows the new size");
}

# restart the camera on its port with another codec
sub switch_to {
    my ($codec) = @_;
    my $port = $Switch->{port};
    stop_camera($Switch);
    $Switch = start_camera(port => $port, codec => $codec, size => '320x240',
                           fps => 15, gop => 15, audio => 'aac');
}

# --- bar_switch: from=h264 to=hevc codecs=^hvc1\.
sub check_switch {
    my ($block, $body) = @_;
    my $name = $block->name;
    my %o = ($block->bar_switch // '') =~ /(\w+)=(\S+)/g;
    my $s = sides('switch', $body);
    ok($s, "$name - a discontinuity between segments") or return;
    isnt($s->{before}{map}, $s->{after}{map}, "$name - a new init segment after it");
    is($s->{before}{video}{codec_name}, $o{from}, "$name - before: $o{from}");
    is($s->{after}{video}{codec_name}, $o{to}, "$name - after: $o{to}");
    like(status_of('switch')->{codecs} // '', qr/$o{codecs}/,
         "$name - status: CODECS " . (status_of('switch')->{codecs} // 'none'));
    # a player that starts now, at the live edge, plays the new codec
    my ($rc, $out, $err) = BarHls::Test::run_cmd(
        ['ffmpeg', '-nostdin', '-v', 'error', '-live_start_index', -1, '-i',
         nginx_url('/live/switch/index.m3u8'), '-t', 3, '-f', 'null', '-'], 40);
    is("$rc $err", '0 ', "$name - ffmpeg starting at the live edge decodes it");
}

sub check_hlsjs {
    my ($block) = @_;
    my $name = $block->name;
    SKIP: {
        skip("$name - no Chromium, node or node_modules", 3)
            unless -e $Chromium && -e '/usr/bin/node'
                   && -e "$Root/node_modules/hls.js/dist/hls.min.js";
        my ($rc, $out, $err) = BarHls::Test::run_cmd(
            ['node', "$Root/t/lib/sound.mjs", '--url', nginx_url('/live/switch/index.m3u8'),
             '--seconds', 8, '--chromium', $Chromium], 100);
        my $r = eval { JSON::PP::decode_json($out) } || {};
        is($rc, 0, "$name - hls.js plays the camera back on H.264") or diag("$err\n$out");
        is($r->{size}, '320x240', "$name - 320x240 on screen");
        ok(($r->{audio_bytes} // 0) > 0, "$name - with its sound");
    }
}

run_tests();

__DATA__

=== TEST 1: the picture size changes mid-session: a new init segment after a discontinuity
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera resize rtsp://127.0.0.1:$TEST_NGINX_RESIZE_PORT/stream1;
bar_hls_camera switch rtsp://127.0.0.1:$TEST_NGINX_SWITCH_PORT/stream1 window=3;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Test::wait_playlist_ok('/live/resize/index.m3u8', 2, 20);
main::start_gstreamer();
BarHls::Test::wait_playlist_ok('/live/resize/index.m3u8', 1, 40,
                               \&main::two_after_discontinuity);
--- request
GET /live/resize/index.m3u8
--- bar_check: resize
--- error_log eval
qr/\[warn\] .*bar_hls: camera "resize": new parameter sets: now 160x120 avc1\.\w+,mp4a\.40\.2, a new init segment/
--- timeout: 120



=== TEST 2: the camera comes back with H.265: a new init segment, hvc1
--- init
BarHls::Test::wait_playlist_ok('/live/switch/index.m3u8', 2, 20);
main::switch_to('h265');
BarHls::Test::wait_playlist_ok('/live/switch/index.m3u8', 1, 40,
                               \&main::two_after_discontinuity);
--- request
GET /live/switch/index.m3u8
--- bar_switch: from=h264 to=hevc codecs=^hvc1\.1\.6\.L\d+\.90,mp4a\.40\.2$
--- bar_check: switch
--- timeout: 120



=== TEST 3: and back with H.264: a new init segment, avc1; hls.js plays it
--- init
main::switch_to('h264');
BarHls::Test::wait_playlist_ok('/live/switch/index.m3u8', 1, 40,
                               \&main::two_after_discontinuity);
--- request
GET /live/switch/index.m3u8
--- bar_switch: from=hevc to=h264 codecs=^avc1\.42c0\w\w,mp4a\.40\.2$
--- bar_check: switch hlsjs
--- timeout: 150
