# The field's video quirks, each from a fake camera that has it: B-frames
# (composition offsets, PTS != DTS, Main and High profiles in CODECS, in
# H.264 and H.265), key frames further apart than the segment target (4 s
# and 10 s with segment=2s: an honest TARGETDURATION, independent parts
# at key frames only), 5 and 30 frames a second, and parameter sets only
# in band (no sprop-parameter-sets in the SDP).
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Timing ();
use Test::Nginx::Socket 'no_plan';

use JSON::PP ();

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

my %small = (size => '320x240', fps => 15);
start_camera(env => 'TEST_NGINX_MAIN_PORT', bframes => 2, profile => 'main',
             gop => 15, %small, record => 1);
start_camera(env => 'TEST_NGINX_HIGH_PORT', bframes => 3, profile => 'high',
             gop => 15, %small, record => 1);
start_camera(env => 'TEST_NGINX_B265_PORT', codec => 'h265', bframes => 2,
             gop => 15, %small, record => 1);
start_camera(env => 'TEST_NGINX_GOP4_PORT', gop => 60, %small, record => 1);
start_camera(env => 'TEST_NGINX_GOP10_PORT', gop => 150, %small, record => 1);
start_camera(env => 'TEST_NGINX_FPS5_PORT', size => '320x240', fps => 5, gop => 10, record => 1);
start_camera(env => 'TEST_NGINX_FPS30_PORT', size => '320x240', fps => 30, gop => 60, record => 1);
start_camera(env => 'TEST_NGINX_BARE_PORT', no_sprop => 1, gop => 15, %small, record => 1);

sub status_of {
    my ($cam) = @_;
    my $res = http_get('/live/status');
    my $st = eval { JSON::PP::decode_json($res->{content}) } || {};
    return $st->{cameras}{$cam} || {};
}

# the segment's video packets, decode order: [[pts, dts, key], ...]
sub packets {
    my ($dir, $map, $seg) = @_;
    my $data = (http_get("$dir/$map")->{content} // '')
             . (http_get("$dir/$seg")->{content} // '');
    my $file = File::Spec->catfile(BarHls::Test::tmp_dir(), "quirk-$$.mp4");
    open my $fh, '>', $file or die "$file: $!";
    binmode $fh;
    print $fh $data;
    close $fh;
    my ($rc, $out) = BarHls::Test::run_cmd(
        ['ffprobe', '-v', 'error', '-select_streams', 'v', '-show_entries',
         'packet=pts,dts,flags', '-of', 'csv', $file], 30);
    unlink $file;
    return map { [/^packet,(-?\d+),(-?\d+),(K?)/] } grep { /^packet,/ } split /\n/, $out;
}

# --- bar_quirk: cam=main codecs=^avc1\.4d profile=Main
sub check_bframes {
    my ($block, $body) = @_;
    my $name = $block->name;
    my %o = ($block->bar_quirk // '') =~ /(\w+)=(\S+)/g;
    my $st = status_of($o{cam});
    like($st->{codecs} // '', qr/$o{codecs}/, "$name - CODECS " . ($st->{codecs} // 'none'));
    my $streams = ffprobe_streams("/live/$o{cam}/index.m3u8") || [];
    my ($v) = grep { $_->{codec_type} eq 'video' } @$streams;
    is($v && $v->{profile}, $o{profile}, "$name - ffprobe: profile $o{profile}");
    ok($v && $v->{has_b_frames} > 0, "$name - ffprobe: B-frames (has_b_frames "
                                   . ($v ? $v->{has_b_frames} : '?') . ')');
    my $pl = parse_playlist($body);
    my @p = packets("/live/$o{cam}", $pl->{segments}[-1]{map}, $pl->{segments}[-1]{uri});
    my $reordered = grep { $_->[0] != $_->[1] } @p;
    my @dts = map { $_->[1] } @p;
    my $mono = !grep { $dts[$_] <= $dts[$_ - 1] } 1 .. $#dts;
    my @pts = sort { $a <=> $b } map { $_->[0] } @p;
    ok($reordered && $mono, "$name - composition offsets: $reordered of "
                            . scalar(@p) . " pictures with PTS != DTS, DTS increasing");
    ok(!grep({ $pts[$_] == $pts[$_ - 1] } 1 .. $#pts), "$name - no two pictures share a PTS");
    # from the very first segment: the pictures before libavformat's first DTS
    my ($rc, undef, $err) = BarHls::Test::run_cmd(
        ['ffmpeg', '-nostdin', '-v', 'error', '-live_start_index', 0, '-i',
         nginx_url("/live/$o{cam}/index.m3u8"), '-t', 5, '-f', 'null', '-'], 40);
    is("$rc $err", '0 ', "$name - ffmpeg decodes it from its first segment without an error");
}

# --- bar_quirk: cam=gop4 target=4 gop=4
sub check_gop {
    my ($block, $body) = @_;
    my $name = $block->name;
    my %o = ($block->bar_quirk // '') =~ /(\w+)=(\S+)/g;
    # the parts listed before a segment's URI are that segment's
    my (@segs, @parts);
    for my $line (split /\n/, $body) {
        if ($line =~ /^#EXT-X-PART:/) {
            push @parts, $line =~ /INDEPENDENT=YES/ ? 1 : 0;
        } elsif ($line =~ /^seg-(\d+)\.m4s$/) {
            push @segs, { msn => $1, parts => scalar @parts,
                          indep => [grep { $parts[$_] } 0 .. $#parts] } if @parts;
            @parts = ();
        }
    }
    # every part listed in full segments: one independent part, the first
    my @whole = grep { $_->{parts} >= 5 } @segs;
    my @bad = grep { "@{ $_->{indep} }" ne '0' } @whole;
    ok(@whole && !@bad, "$name - " . scalar(@whole) . " segments, each with one "
                        . "independent part, its first (a key frame every $o{gop} s)")
        or diag(join "\n", map { "$_->{msn}: independent @{ $_->{indep} } of $_->{parts}" } @bad);
}

# --- bar_quirk: cam=fps5 fps=5
sub check_frames {
    my ($block, $body) = @_;
    my $name = $block->name;
    my %o = ($block->bar_quirk // '') =~ /(\w+)=(\S+)/g;
    my $pl = parse_playlist($body);
    # the frames the camera sent in each segment's span (its recorder)
    my $cam = camera_on_port('TEST_NGINX_' . uc($o{cam}) . '_PORT');
    my $spans = BarHls::Timing::camera_segments_ok("$name - frames", $cam, $pl, segment => 2);
    for my $seg (@{ $pl->{segments} }) {
        my $p = probe_segment("/live/$o{cam}", $seg->{map}, $seg->{uri});
        is($p->{rc} . $p->{err}, '0', "$name - $seg->{uri}: ffprobe reads it");
        is($p->{first_key}, 1, "$name - $seg->{uri}: starts with a key frame");
        my $frames = $p->{video} // 0;
        my $span = $spans->{ $seg->{uri} };
        is($frames, $span ? BarHls::Timing::camera_span_frames($cam, @$span) : 'a span of the camera',
           "$name - $seg->{uri}: the frames the camera sent in its $seg->{duration} s "
           . "(at $o{fps} fps: " . sprintf('%.1f', $seg->{duration} * $o{fps}) . ')');
    }
}

sub check_bare {
    my ($block) = @_;
    my $name = $block->name;
    like(status_of('bare')->{codecs} // '', qr/^avc1\.42c0\w\w$/, "$name - CODECS from the in-band SPS");
    my ($rc, $err) = ffmpeg_decode('/live/bare/index.m3u8', 4);
    is("$rc $err", '0 ', "$name - ffmpeg decodes 4 s without an error");
}

run_tests();

__DATA__

=== TEST 1: H.264 Main with 2 B-frames
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera main rtsp://127.0.0.1:$TEST_NGINX_MAIN_PORT/stream1;
bar_hls_camera high rtsp://127.0.0.1:$TEST_NGINX_HIGH_PORT/stream1;
bar_hls_camera b265 rtsp://127.0.0.1:$TEST_NGINX_B265_PORT/stream1;
bar_hls_camera gop4 rtsp://127.0.0.1:$TEST_NGINX_GOP4_PORT/stream1 segment=2s;
bar_hls_camera gop10 rtsp://127.0.0.1:$TEST_NGINX_GOP10_PORT/stream1 segment=2s window=3;
bar_hls_camera fps5 rtsp://127.0.0.1:$TEST_NGINX_FPS5_PORT/stream1;
bar_hls_camera fps30 rtsp://127.0.0.1:$TEST_NGINX_FPS30_PORT/stream1;
bar_hls_camera bare rtsp://127.0.0.1:$TEST_NGINX_BARE_PORT/stream1;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Test::wait_playlist_ok('/live/main/index.m3u8', 3, 20);
--- request
GET /live/main/index.m3u8
--- bar_playlist: min=3 target=2 camera=TEST_NGINX_MAIN_PORT segment=2 first=todo
--- bar_quirk: cam=main codecs=^avc1\.4d profile=Main
--- bar_check: bframes
--- timeout: 60



=== TEST 2: H.264 High with 3 B-frames
--- request
GET /live/high/index.m3u8
--- bar_playlist: min=3 target=2 camera=TEST_NGINX_HIGH_PORT segment=2 first=todo
--- bar_quirk: cam=high codecs=^avc1\.64 profile=High
--- bar_check: bframes
--- timeout: 60



=== TEST 3: H.265 Main with 2 B-frames
--- request
GET /live/b265/index.m3u8
--- bar_playlist: min=3 target=2 camera=TEST_NGINX_B265_PORT segment=2 first=todo
--- bar_quirk: cam=b265 codecs=^hvc1\.1\.6\. profile=Main
--- bar_check: bframes
--- timeout: 60



=== TEST 4: a key frame every 4 s, segment=2s: 4 s segments, TARGETDURATION 4
--- init
BarHls::Test::wait_playlist_ok('/live/gop4/index.m3u8', 3, 30);
--- request
GET /live/gop4/index.m3u8
--- bar_playlist: min=3 target=4 camera=TEST_NGINX_GOP4_PORT segment=2
--- bar_quirk: cam=gop4 gop=4
--- bar_check: gop



=== TEST 5: a key frame every 10 s, segment=2s: 10 s segments, TARGETDURATION 10
--- init
BarHls::Test::wait_playlist_ok('/live/gop10/index.m3u8', 2, 45);
--- request
GET /live/gop10/index.m3u8
--- bar_playlist: min=2 target=10 camera=TEST_NGINX_GOP10_PORT segment=2
--- bar_quirk: cam=gop10 gop=10
--- bar_check: gop
--- timeout: 60



=== TEST 6: 5 frames a second: segments of their duration in frames
--- init
BarHls::Test::wait_playlist_ok('/live/fps5/index.m3u8', 3, 20);
--- request
GET /live/fps5/index.m3u8
--- bar_playlist: min=3 target=2 camera=TEST_NGINX_FPS5_PORT segment=2
--- bar_quirk: cam=fps5 fps=5
--- bar_check: frames



=== TEST 7: 30 frames a second: segments of their duration in frames
--- request
GET /live/fps30/index.m3u8
--- bar_playlist: min=3 target=2 camera=TEST_NGINX_FPS30_PORT segment=2
--- bar_quirk: cam=fps30 fps=30
--- bar_check: frames



=== TEST 8: SPS and PPS in band only (no sprop-parameter-sets in the SDP)
--- request
GET /live/bare/index.m3u8
--- bar_playlist: min=3 target=2 camera=TEST_NGINX_BARE_PORT segment=2
--- bar_check: bare
--- timeout: 40
