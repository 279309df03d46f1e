# Low-Latency HLS playlists with the default part=200ms: version 9,
# EXT-X-SERVER-CONTROL, EXT-X-PART-INF, EXT-X-PART for the last three
# complete segments and the open one, one EXT-X-PRELOAD-HINT for the next
# part.  Parts are never longer than PART-TARGET, add up to their
# segment's EXTINF, are INDEPENDENT=YES exactly when they start with a
# keyframe, are served as moof+mdat and make up their segment byte for
# byte.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use BarHls::Timing;
use File::Spec ();
use JSON::PP ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

# a keyframe every second: two per 2 s segment; its frames are recorded
# (BarHls::Timing) to compare parts and segments with
our $Cam = start_camera(env => 'TEST_NGINX_CAM_PORT', audio => 'aac', gop => 25, record => 1);

# the rules every LL-HLS playlist here must follow; $target: segment
# target (s)
sub ll_rules {
    my ($name, $text, $target) = @_;
    my $pl = parse_ll($text);
    ok($pl, "$name - a playlist") or return;
    is($pl->{version}, 9, "$name - EXT-X-VERSION:9");
    like($text, qr/^#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0\.600,CAN-SKIP-UNTIL=${\ ($target * 6)}\.000$/m,
         "$name - EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600,CAN-SKIP-UNTIL=" . ($target * 6) . '.000');
    like($text, qr/^#EXT-X-PART-INF:PART-TARGET=0\.200$/m, "$name - EXT-X-PART-INF:PART-TARGET=0.200");
    ok($pl->{server_control}{'PART-HOLD-BACK'} >= 2 * $pl->{part_target},
       "$name - PART-HOLD-BACK is at least twice PART-TARGET");
    my @segs = @{ $pl->{segments} };
    my $n = @segs;
    # parts: of the segments that begin within three target durations of
    # the playlist's end (RFC 8216bis 6.2.2), and of the open one
    my $end = 0;
    $end += $_->{duration} for @{ $pl->{open}{parts} || [] };
    my @want;
    for my $i (reverse 0 .. $#segs) {
        $end += $segs[$i]{duration};
        last if $end > 3 * $pl->{target} + 1e-9;
        unshift @want, $i;
    }
    my @with = grep { @{ $segs[$_]{parts} } } 0 .. $#segs;
    is("@with", "@want", "$name - EXT-X-PART for the segments within 3 target durations of the end ($n listed)");
    my @all = (map { @{ $_->{parts} } } @segs[@want]);
    push @all, @{ $pl->{open}{parts} } if $pl->{open};
    # parts are numbered for the stream: one after the other, across
    # segments
    my (@names);
    push @names, join(' ', map { $_->{uri} } @all)
        if grep { !defined $all[$_]{number}
                  || ($_ > 0 && $all[$_]{number} != $all[$_ - 1]{number} + 1) } 0 .. $#all;
    # where the segments are in the camera's time: a part may be longer
    # than PART-TARGET only across a frame the camera did not send
    my $spans = camera_segments_ok($name, $Cam, $pl, segment => $target);
    my $frame = camera_frame_interval($Cam);
    my ($next_start, @long, @sums);
    for my $seg (@segs[@want], $pl->{open} || ()) {
        my @p = @{ $seg->{parts} };
        my $span = defined $seg->{duration} ? $spans->{ $seg->{uri} } : undef;
        my $t = $span ? $span->[0] : $next_start;
        $next_start = $span ? $span->[1] : undef;
        next unless @p;
        my $msn = $seg->{msn} // $p[0]{msn};
        for my $part (@p) {
            my $gap = defined $t ? camera_gap_in($Cam, $t, $t + $part->{duration}) : 0;
            push @long, sprintf('%s: %s s (longest camera frame interval in it: %.3f s)',
                                $part->{uri}, $part->{duration}, $gap)
                if $part->{duration} > 0.200 + 1e-6
                   && !($gap > 1.5 * $frame && $part->{duration} <= 0.200 + $gap - $frame + 0.001 + 1e-6);
            $t += $part->{duration} if defined $t;
        }
        if (defined $seg->{duration}) {
            my $sum = 0;
            $sum += $_->{duration} for @p;
            push @sums, sprintf('seg-%s: parts %.3f, EXTINF %s', $msn, $sum, $seg->{duration})
                if abs($sum - $seg->{duration}) > 0.001 * @p + 1e-9;
        }
    }
    ok(!@names, "$name - parts are part-<n>.m4s, n one more each time") or diag(join "\n", @names);
    ok(!@long, "$name - no part longer than PART-TARGET (but by a frame the camera did not send)")
        or diag(join "\n", @long);
    ok(!@sums, "$name - the parts of a segment add up to its EXTINF (1 ms a part)") or diag(join "\n", @sums);
    ok(!(grep { $_->{duration} <= 0 } @all), "$name - every part lasts more than 0");
    my @first = grep { $_->{n} == 0 && !$_->{independent} } @all;
    ok(!@first, "$name - the first part of every segment is INDEPENDENT=YES")
        or diag(join "\n", map { $_->{uri} } @first);
    # the hint: exactly one, the part after the last listed one
    is($pl->{nhints}, 1, "$name - one EXT-X-PRELOAD-HINT");
    like($text, qr/\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-\d+\.m4s"\n\z/,
         "$name - EXT-X-PRELOAD-HINT:TYPE=PART last");
    my $last = $all[-1];
    my $hint = $pl->{hint} || {};
    is($hint->{number}, $last->{number} + 1, "$name - the hint $hint->{uri} follows $last->{uri}");
    return $pl;
}

# five playlists, 600 ms apart
sub check_rules {
    my ($block, $body) = @_;
    my $name = $block->name;
    ll_rules("$name - #0", $body, 2);
    for my $i (1 .. 4) {
        sleep 0.6;
        ll_rules("$name - #$i", http_get('/live/ale/index.m3u8')->{content}, 2);
    }
}

# video frames of init + segment: ([pts, key], ...)
sub video_frames {
    my ($map, $uri) = @_;
    my $file = File::Spec->catfile(File::Spec->tmpdir, "bar-hls-030-$$.mp4");
    open my $fh, '>', $file or die "$file: $!";
    binmode $fh;
    print $fh http_get("/live/ale/$map")->{content} // '', http_get("/live/ale/$uri")->{content} // '';
    close $fh;
    my ($rc, $out, $err) = BarHls::Test::run_cmd(
        ['ffprobe', '-v', 'error', '-select_streams', 'v', '-show_entries',
         'frame=key_frame,pts_time', '-of', 'json', $file], 30);
    unlink $file;
    my $json = eval { JSON::PP::decode_json($out) } || {};
    return ($rc, $err, map { [$_->{pts_time}, $_->{key_frame}] } @{ $json->{frames} || [] });
}

# INDEPENDENT=YES exactly on the parts that start with a keyframe, and
# every part is moof+mdat
sub check_independent {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_ll($body);
    my @segs = grep { defined $_->{duration} && @{ $_->{parts} } } @{ $pl->{segments} };
    my (@wrong, @bad, @boxes, $ind);
    for my $seg (@segs) {
        my ($rc, $err, @frames) = video_frames($seg->{map}, $seg->{uri});
        ok($rc == 0 && @frames, "$name - $seg->{uri} decodes (" . scalar(@frames) . ' frames)')
            or diag($err);
        next unless @frames;
        my $t = $frames[0][0];
        my $k = 0;
        for my $p (@{ $seg->{parts} }) {
            my $res = http_get("/live/ale/$p->{uri}");
            push @bad, "$p->{uri}: $res->{status} " . ($res->{headers}{'content-type'} // '')
                unless $res->{status} == 200 && ($res->{headers}{'content-type'} // '') eq 'video/mp4';
            push @boxes, "$p->{uri}: " . box_types($res->{content})
                if box_types($res->{content}) ne 'moof mdat';
            # the frame the part starts with: the durations before it are
            # truncated to milliseconds, a millisecond a part at most
            $k++;
            my ($first) = grep { abs($_->[0] - $t) <= 0.001 * $k + 1e-6 } @frames;
            $ind++ if $p->{independent};
            push @wrong, sprintf('%s at %.3f: INDEPENDENT=%s, first frame %s', $p->{uri}, $t,
                                 $p->{independent} ? 'YES' : 'no',
                                 $first ? ($first->[1] ? 'key' : 'not key') : 'none')
                if !$first || !!$p->{independent} != !!$first->[1];
            $t += $p->{duration};
        }
    }
    ok(!@bad, "$name - every part is 200 video/mp4") or diag(join "\n", @bad);
    ok(!@boxes, "$name - every part is moof mdat") or diag(join "\n", @boxes);
    ok(!@wrong, "$name - INDEPENDENT=YES exactly on the parts starting with a keyframe")
        or diag(join "\n", @wrong);
    # as many as the keyframes the camera sent in these segments, and
    # more than one a segment (the camera's 1 s GOP in 2 s segments): the
    # check above saw keyframes inside segments too
    my $spans = camera_segments_ok($name, $Cam, $pl, segment => 2);
    my $keys = 0;
    $keys += $spans->{ $_->{uri} } ? camera_span_keys($Cam, @{ $spans->{ $_->{uri} } }) : 0 for @segs;
    is($ind // 0, $keys, "$name - an independent part for each keyframe the camera sent ($keys in "
       . scalar(@segs) . ' segments)');
    ok(@segs && $keys > @segs, "$name - keyframes inside segments, not only at their start");
}

# a segment is its parts, byte for byte
sub check_concat {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_ll($body);
    for my $seg (grep { defined $_->{duration} && @{ $_->{parts} } } @{ $pl->{segments} }) {
        my $whole = http_get("/live/ale/$seg->{uri}")->{content} // '';
        my $cat = join '', map { http_get("/live/ale/$_->{uri}")->{content} // '' } @{ $seg->{parts} };
        ok(length $whole && md5_hex($whole) eq md5_hex($cat),
           "$name - $seg->{uri} is its " . scalar(@{ $seg->{parts} }) . ' parts ('
           . length($whole) . ' vs ' . length($cat) . ' bytes)');
    }
}

run_tests();

__DATA__

=== TEST 1: the LL-HLS tags, five playlists in a row
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 4, 20);
--- request
GET /live/ale/index.m3u8
--- response_headers
Content-Type: application/vnd.apple.mpegurl
--- bar_playlist: min=4 target=2
--- bar_check: rules



=== TEST 2: INDEPENDENT=YES on the parts starting with a keyframe
--- request
GET /live/ale/index.m3u8
--- bar_check: independent



=== TEST 3: a segment is the concatenation of its parts
--- request
GET /live/ale/index.m3u8
--- bar_check: concat
