# The media: ffprobe/ffmpeg read the live stream; init segment and media
# segments are well-formed fragmented MP4.
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

start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac', auth => 'digest',
             password => $PASSWORD, gop => 25, size => '640x360', fps => 25,
             record => 1);

my $Live = '/live/ale/index.m3u8';

# ffprobe on the live playlist: one H.264 640x360 and one AAC stream.
sub check_ffprobe {
    my ($block) = @_;
    my $name = $block->name;
    my $streams = ffprobe_streams($Live) || [];
    my @v = grep { ($_->{codec_type} // '') eq 'video' } @$streams;
    my @a = grep { ($_->{codec_type} // '') eq 'audio' } @$streams;
    is(scalar @$streams, 2, "$name - ffprobe: two streams");
    is($v[0]{codec_name}, 'h264', "$name - ffprobe: H.264 video");
    is(($v[0]{width} // '?') . 'x' . ($v[0]{height} // '?'), '640x360',
       "$name - ffprobe: 640x360");
    is($a[0]{codec_name}, 'aac', "$name - ffprobe: AAC audio");
    ok(($a[0]{sample_rate} // 0) > 0 && ($a[0]{channels} // 0) > 0,
       "$name - ffprobe: audio has a sample rate and channels");
}

# ffmpeg decodes 3 s of the live stream without a single error.
sub check_decode {
    my ($block) = @_;
    my $name = $block->name;
    my ($rc, $err) = ffmpeg_decode($Live, 3);
    is($rc, 0, "$name - ffmpeg decodes 3 s (exit code)");
    is($err, '', "$name - ffmpeg decodes 3 s without errors");
}

sub child_boxes {
    my ($data, $parent) = @_;
    my ($pos, @out) = (0);
    for (mp4_boxes($data)) {
        my ($type, $size) = @$_;
        push @out, [$type, substr($data, $pos + 8, $size - 8)] if $type eq $parent;
        $pos += $size;
    }
    return @out;
}

# the init segment describes a fragmented file with two tracks
sub check_init_tracks {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($moov) = child_boxes($body, 'moov');
    my $inner = $moov ? box_types($moov->[1]) : '';
    is(scalar(() = $inner =~ /\btrak\b/g), 2, "$name - moov has two trak boxes ($inner)");
    like($inner, qr/\bmvex\b/, "$name - moov has mvex (fragmented MP4)");
}

# init.mp4 is the very init segment the playlist names in EXT-X-MAP
sub check_init_versioned {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_playlist(http_get($Live)->{content});
    my $map = $pl && $pl->{map};
    like($map // '', qr/^init-[0-9a-z]+\.mp4$/, "$name - the playlist names an init segment");
    my $res = http_get("/live/ale/$map");
    is($res->{status}, 200, "$name - $map: 200");
    is($res->{headers}{'content-type'}, 'video/mp4', "$name - $map: video/mp4");
    ok(md5_hex($res->{content}) eq md5_hex($body), "$name - $map: same bytes as init.mp4");
}

# every segment the playlist lists: 200 video/mp4, moof+mdat pairs; after
# the init segment it holds the video frames the camera sent in its GOPs
# (BarHls::Timing), starting with a key frame (EXT-X-INDEPENDENT-SEGMENTS),
# and audio
sub check_segments {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_playlist($body);
    my @segs = $pl ? @{ $pl->{segments} } : ();
    ok(@segs >= 3, "$name - at least 3 segments listed");
    my $cam = camera_on_port('TEST_NGINX_CAM_PORT');
    my $spans = camera_segments_ok($name, $cam, $pl, segment => 2);
    for my $seg (@segs) {
        my $uri = $seg->{uri};
        my $res = http_get("/live/ale/$uri");
        my $types = box_types($res->{content});
        is($res->{status}, 200, "$name - $uri: 200");
        is($res->{headers}{'content-type'}, 'video/mp4', "$name - $uri: video/mp4");
        is($res->{headers}{'content-length'}, length $res->{content},
           "$name - $uri: Content-Length");
        like($types, qr/^moof mdat( moof mdat)*$/, "$name - $uri: moof+mdat boxes only")
            or diag($types);

        my $p = probe_segment('/live/ale', $seg->{map}, $uri);
        is($p->{rc} . $p->{err}, '0', "$name - init + $uri: ffprobe reads it without errors");
        my $frames = $p->{video} // 0;
        my $span = $spans->{$uri};
        is($frames, $span ? camera_span_frames($cam, @$span) : 'a span of the camera',
           "$name - $uri: the video frames the camera sent in its $seg->{duration} s");
        ok(($p->{audio} // 0) > 0, "$name - $uri: audio (" . ($p->{audio} // 0) . ' packets)');
        is($p->{first_key}, 1, "$name - $uri: starts with a key frame");
    }
}

# HEAD of a segment: same headers as GET, no body
sub check_head_segment {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($uri) = $body =~ /^(seg-\d+\.m4s)$/m;
    my $get = http_get("/live/ale/$uri");
    my $head = http_get("/live/ale/$uri", method => 'HEAD');
    is($head->{status}, 200, "$name - HEAD $uri: 200");
    is($head->{headers}{'content-length'}, length $get->{content},
       "$name - HEAD $uri: the GET's Content-Length");
    is($head->{content} // '', '', "$name - HEAD $uri: no body");
}

run_tests();

__DATA__

=== TEST 1: ffprobe finds H.264 640x360 and AAC in the live playlist
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
--- bar_check: ffprobe decode
--- no_error_log
[error]



=== TEST 2: init.mp4 is ftyp+moov with a video and an audio track
--- request
GET /live/ale/init.mp4
--- response_headers
Content-Type: video/mp4
--- bar_boxes_like: ^ftyp moov$
--- bar_check: init_tracks init_versioned
--- no_error_log
[error]



=== TEST 3: every listed segment is moof+mdat and starts with a key frame
--- request
GET /live/ale/index.m3u8
--- bar_check: segments
--- no_error_log
[error]



=== TEST 4: HEAD of a segment
--- request
GET /live/ale/index.m3u8
--- bar_check: head_segment
--- no_error_log
[error]
