# H.265 cameras, copied, never re-encoded: fMP4 with an hvc1 sample entry
# whose hvcC holds the parameter sets (checked box by box, its CODECS
# string computed again from its bytes), parts flagged independent only
# where an IRAP picture starts them, ffmpeg decoding 10 s of the live
# playlist without an error, GStreamer's playbin3 playing 100 frames; the
# MPEG-TS variant (hev1); a camera with its parameter sets in band only.
# Debian's headless Chromium has no H.265 decoder (shared/DESIGN.md): the
# players here are ffmpeg and GStreamer.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Mp4;
use Test::Nginx::Socket 'no_plan';

use JSON::PP ();

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

my $Root = repo_root();

start_camera(env => 'TEST_NGINX_HEVC_PORT', codec => 'h265', size => '320x240',
             fps => 15, gop => 15, audio => 'aac', record => 1);
start_camera(env => 'TEST_NGINX_BARE_PORT', codec => 'h265', size => '320x240',
             fps => 15, gop => 15, no_sprop => 1, record => 1);

sub status_of {
    my ($cam) = @_;
    my $res = http_get('/live/status');
    my $st = eval { JSON::PP::decode_json($res->{content}) } || {};
    return $st->{cameras}{$cam} || {};
}

sub check_hevc {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_playlist($body) or return;
    my $st = status_of('hevc');
    like($st->{codecs} // '', qr/^hvc1\.1\.6\.L\d+\.90,mp4a\.40\.2$/,
         "$name - status: CODECS " . ($st->{codecs} // 'none'));
    is("$st->{width}x$st->{height}", '320x240', "$name - status: 320x240");

    # the init segment, box by box
    my $init = http_get("/live/hevc/$pl->{segments}[0]{map}")->{content};
    my $e = BarHls::Mp4::video_entry($init) || {};
    is($e->{type}, 'hvc1', "$name - the sample entry is hvc1 (parameter sets in hvcC)");
    is("$e->{width}x$e->{height}", '320x240', "$name - hvc1: 320x240");
    my $h = $e->{hvcc} || {};
    ok(!$h->{error} && $h->{version} == 1 && !$h->{trailing},
       "$name - hvcC: configurationVersion 1, every array within the box")
        or diag($h->{error});
    is($h->{profile_idc}, 1, "$name - hvcC: Main profile");
    is($h->{length_size}, 4, "$name - hvcC: 4-byte NAL unit lengths");
    my %arr = map { $_->{type} => $_ } @{ $h->{arrays} || [] };
    for my $t ([32, 'VPS'], [33, 'SPS'], [34, 'PPS']) {
        my $a = $arr{$t->[0]};
        ok($a && @{ $a->{nalus} } >= 1 && $a->{complete},
           "$name - hvcC: the $t->[1] array, array_completeness 1");
        ok($a && !grep({ ((ord($_) >> 1) & 0x3f) != $t->[0] } @{ $a->{nalus} }),
           "$name - hvcC: $t->[1] NAL units of their type");
    }
    my $codecs = %$h ? BarHls::Mp4::hvcc_codecs($h) : '';
    is(($st->{codecs} // '') =~ s/,.*//r, $codecs,
       "$name - CODECS is what hvcC says ($codecs)");

    # independent parts start with an IRAP picture, the others do not
    my (@bad, $parts, $indep);
    my @lines = split /\n/, $body;
    for my $line (@lines) {
        my ($uri) = $line =~ /^#EXT-X-PART:.*URI="([^"]+)"/ or next;
        $parts++;
        my $flag = $line =~ /INDEPENDENT=YES/ ? 1 : 0;
        $indep += $flag;
        my $frag = http_get("/live/hevc/$uri")->{content};
        my @types = BarHls::Mp4::first_sample_nals($frag, 1);
        my $irap = grep { $_ >= 16 && $_ <= 23 } @types;
        push @bad, "$uri: independent=$flag, NAL units @types" if $flag != ($irap ? 1 : 0);
    }
    ok($parts && !@bad, "$name - $indep of $parts parts independent, each at an IRAP picture")
        or diag(join "\n", @bad);
}

sub check_decode {
    my ($block) = @_;
    my $name = $block->name;
    my %o = ($block->bar_decode // '') =~ /(\w+)=(\S+)/g;
    my $streams = ffprobe_streams("/live/$o{cam}/index.m3u8") || [];
    my ($v) = grep { $_->{codec_type} eq 'video' } @$streams;
    is($v && "$v->{codec_name} $v->{profile} $v->{width}x$v->{height}",
       'hevc Main 320x240', "$name - ffprobe: H.265 Main 320x240");
    my ($rc, $err) = ffmpeg_decode("/live/$o{cam}/index.m3u8", $o{seconds});
    is("$rc $err", '0 ', "$name - ffmpeg decodes $o{seconds} s without an error");
}

sub check_gstreamer {
    my ($block) = @_;
    my $name = $block->name;
    my ($rc, $out, $err) = BarHls::Test::run_cmd(
        ['/usr/bin/python3', "$Root/t/lib/gst-play.py",
         nginx_url('/live/hevc/index.m3u8'), 100, 60], 90);
    my $r = eval { JSON::PP::decode_json($out) } || {};
    diag("measure: GStreamer playbin3: $r->{frames} frames in $r->{seconds} s")
        if defined $r->{frames};
    is($rc, 0, "$name - playbin3 played 100 frames") or diag("$err\n$out");
    like($r->{caps} // '', qr/width=\(int\)320, height=\(int\)240/,
         "$name - decoded 320x240");
}

sub check_ts {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $st = status_of('hevcts');
    like($st->{codecs} // '', qr/^hev1\.1\.6\.L\d+\.90,mp4a\.40\.2$/,
         "$name - status: hev1 in MPEG-TS, the parameter sets in band");
    my @segs = $body =~ /^(seg-\d+\.ts)$/mg;
    my $seg = http_get("/live/hevcts/$segs[-1]")->{content} // '';
    my $file = File::Spec->catfile(BarHls::Test::tmp_dir(), "hevc-$$.ts");
    open my $fh, '>', $file or die "$file: $!";
    binmode $fh;
    print $fh $seg;
    close $fh;
    my ($rc, $out) = BarHls::Test::run_cmd(
        ['ffprobe', '-v', 'error', '-select_streams', 'v', '-show_entries',
         'frame=key_frame', '-of', 'csv', $file], 30);
    unlink $file;
    my @keys = $out =~ /^frame,(\d)/mg;
    ok(@keys && $keys[0] == 1, "$name - $segs[-1] starts with a key frame ("
                               . scalar(@keys) . ' frames)');
}

run_tests();

__DATA__

=== TEST 1: an H.265 camera: hvc1, hvcC, IRAP parts, CODECS
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera hevc rtsp://127.0.0.1:$TEST_NGINX_HEVC_PORT/stream1;
bar_hls_camera hevcts rtsp://127.0.0.1:$TEST_NGINX_HEVC_PORT/stream1 variant=mpegts;
bar_hls_camera bare rtsp://127.0.0.1:$TEST_NGINX_BARE_PORT/stream1;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Test::wait_playlist_ok('/live/hevc/index.m3u8', 3, 20);
--- request
GET /live/hevc/index.m3u8
--- bar_playlist: min=3 target=2 camera=TEST_NGINX_HEVC_PORT segment=2
--- bar_check: hevc
--- error_log eval
qr/\[notice\] .*bar_hls: camera "hevc": streaming 320x240 hvc1\.1\.6\.L\d+\.90,mp4a\.40\.2$/
--- no_error_log
not supported



=== TEST 2: ffmpeg decodes 10 s of the live playlist without an error
--- init
BarHls::Test::wait_playlist_ok('/live/hevc/index.m3u8', 5, 20);
--- request
GET /live/hevc/index.m3u8
--- bar_decode: cam=hevc seconds=10
--- bar_check: decode
--- timeout: 60



=== TEST 3: GStreamer's playbin3 plays 100 frames
--- request
GET /live/hevc/index.m3u8
--- bar_check: gstreamer
--- timeout: 100



=== TEST 4: the MPEG-TS variant: hev1, key frames first, ffmpeg decodes it
--- init
BarHls::Test::wait_for_playlist('/live/hevcts/index.m3u8', 0, 20,
                                sub { $_[0] =~ /^seg-\d+\.ts$/m });
--- request
GET /live/hevcts/index.m3u8
--- bar_decode: cam=hevcts seconds=6
--- bar_check: ts decode
--- timeout: 60



=== TEST 5: parameter sets in band only (no sprop-vps/sps/pps in the SDP)
--- init
BarHls::Test::wait_playlist_ok('/live/bare/index.m3u8', 3, 20);
--- request
GET /live/bare/index.m3u8
--- bar_playlist: min=3 target=2 camera=TEST_NGINX_BARE_PORT segment=2
--- bar_decode: cam=bare seconds=4
--- bar_check: decode
--- error_log eval
qr/\[notice\] .*bar_hls: camera "bare": streaming 320x240 hvc1\.1\.6\.L\d+\.90$/
--- timeout: 60
