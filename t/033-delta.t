# LL-HLS delta updates: ?_HLS_skip=YES (or v2) gives the playlist with
# its oldest segments replaced by #EXT-X-SKIP:SKIPPED-SEGMENTS=N once more
# than CAN-SKIP-UNTIL (6 target durations) is listed, keeping at least
# that much; with less listed, or without LL-HLS, the full playlist.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

start_camera(env => 'TEST_NGINX_CAM_PORT', gop => 25);

# (full, delta) of the same moment: the full playlist is the same before
# and after the delta was fetched
sub same_moment {
    my ($cam, $query) = @_;
    for (1 .. 20) {
        my $a = http_get("/live/$cam/index.m3u8");
        my $d = http_get("/live/$cam/index.m3u8?$query");
        my $b = http_get("/live/$cam/index.m3u8");
        return ($a, $d) if $a->{status} == 200 && $a->{content} eq $b->{content};
        sleep 0.05;
    }
    return;
}

sub check_early {
    my ($block) = @_;
    my $name = $block->name;
    my ($full, $delta) = same_moment('ale', '_HLS_skip=YES');
    ok($full, "$name - full and delta playlists of the same moment") or return;
    my $n = () = $full->{content} =~ /^seg-\d+\.m4s$/mg;
    ok($n <= 6, "$name - at most 6 s listed ($n segments)");
    is($delta->{status}, 200, "$name - _HLS_skip=YES: 200");
    unlike($delta->{content}, qr/EXT-X-SKIP/, "$name - no EXT-X-SKIP");
    is($delta->{content}, $full->{content}, "$name - the full playlist");
}

# the delta is the full playlist with its first N segments replaced by
# EXT-X-SKIP
sub delta_ok {
    my ($name, $full, $delta) = @_;
    my $f = parse_ll($full);
    my $d = parse_ll($delta);
    ok($d && defined $d->{skipped}, "$name - #EXT-X-SKIP:SKIPPED-SEGMENTS") or return diag($delta);
    my $k = $d->{skipped};
    my @fs = @{ $f->{segments} };
    my @ds = @{ $d->{segments} };
    ok($k >= 1, "$name - skips $k segment(s) of " . scalar @fs);
    is(scalar @ds, @fs - $k, "$name - lists the other " . (@fs - $k));
    is($d->{sequence}, $f->{sequence}, "$name - same EXT-X-MEDIA-SEQUENCE");
    is($d->{disc_sequence} // 0, $f->{disc_sequence} // 0, "$name - same EXT-X-DISCONTINUITY-SEQUENCE");
    is($d->{version}, 9, "$name - EXT-X-VERSION:9");
    is($d->{server_control_text}, $f->{server_control_text}, "$name - same EXT-X-SERVER-CONTROL");
    is_deeply([map { $_->{uri} } @ds], [map { $_->{uri} } @fs[$k .. $#fs]], "$name - the newest segments");
    is_deeply([map { $_->{duration} } @ds], [map { $_->{duration} } @fs[$k .. $#fs]], "$name - same EXTINFs");
    is_deeply([map { scalar @{ $_->{parts} } } @ds], [map { scalar @{ $_->{parts} } } @fs[$k .. $#fs]],
              "$name - same parts");
    is($d->{hint}{uri}, $f->{hint}{uri}, "$name - same preload hint");
    # what follows the skipped segments is the full playlist's text
    my ($tail) = $full =~ /(#EXT-X-PROGRAM-DATE-TIME:[^\n]*\n(?:#EXT-X-PART:[^\n]*\n)*#EXTINF:[^\n]*\nseg-$ds[0]{msn}\.m4s\n.*)\z/s;
    ok(defined $tail && index($delta, $tail) > 0, "$name - the rest is the full playlist's text");
    like($delta, qr/#EXT-X-SKIP:SKIPPED-SEGMENTS=$k\n#EXT-X-MAP:URI="init-[0-9a-f]{8}\.mp4"\n#EXT-X-PROGRAM-DATE-TIME:/,
         "$name - EXT-X-MAP and a date right after EXT-X-SKIP");
    # at least CAN-SKIP-UNTIL of media is left
    my $left = 0;
    $left += $_->{duration} for @ds;
    my $until = $d->{server_control}{'CAN-SKIP-UNTIL'};
    ok($left >= $until - 0.001 * @ds, "$name - ${left}s left, at least CAN-SKIP-UNTIL=$until");
    ok($left - $ds[0]{duration} < $until, "$name - and no more segments than that could be skipped");
    return $k;
}

sub check_delta {
    my ($block) = @_;
    my $name = $block->name;
    for my $q ('_HLS_skip=YES', '_HLS_skip=v2') {
        my ($full, $delta) = same_moment('ale', $q);
        ok($full, "$name - $q: full and delta playlists of the same moment") or next;
        is($delta->{status}, 200, "$name - $q: 200");
        delta_ok("$name - $q", $full->{content}, $delta->{content});
        isnt($delta->{headers}{etag}, $full->{headers}{etag}, "$name - $q: another ETag than the full playlist");
        ok(length $delta->{content} < length $full->{content}, "$name - $q: shorter");
        my $n = () = $full->{content} =~ /^seg-\d+\.m4s$/mg;
        measure('%s: %d segments listed, the delta skips %d (%d of %d bytes)', $q, $n,
                parse_ll($delta->{content})->{skipped} // 0, length $delta->{content}, length $full->{content});
    }
}

# a blocking reload can ask for a delta too
sub check_blocking_delta {
    my ($block) = @_;
    my $name = $block->name;
    my $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content});
    my ($m, $n, $uri) = ($pl->{hint}{msn}, $pl->{hint}{part}, $pl->{hint}{uri});
    my $res = parallel_get(["/live/ale/index.m3u8?_HLS_msn=$m&_HLS_part=$n&_HLS_skip=YES"], timeout => 10)->[0];
    is($res->{status}, 200, "$name - 200");
    my $d = parse_ll($res->{body});
    ok($d && $d->{skipped}, "$name - a delta update") or diag($res->{body});
    ok((grep { $_->{uri} eq $uri } map { @{ $_->{parts} } } @{ $d->{segments} }, $d->{open} || ()),
       "$name - listing $uri, the part hinted before");
}

# no LL-HLS: nothing to skip, the full playlist
sub check_classic {
    my ($block) = @_;
    my $name = $block->name;
    my ($full, $delta) = same_moment('classic', '_HLS_skip=YES');
    ok($full, "$name - full and delta playlists of the same moment") or return;
    my $n = () = $full->{content} =~ /^seg-\d+\.m4s$/mg;
    ok($n >= 7, "$name - more than 6 s listed ($n segments)");
    unlike($full->{content}, qr/CAN-SKIP-UNTIL/, "$name - no CAN-SKIP-UNTIL advertised");
    is($delta->{status}, 200, "$name - _HLS_skip=YES: 200");
    is($delta->{content}, $full->{content}, "$name - the full playlist");
}

run_tests();

__DATA__

=== TEST 1: little listed: _HLS_skip=YES gives the full playlist
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s window=12;
bar_hls_camera classic rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s window=12 part=off;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
--- request
GET /live/ale/index.m3u8?_HLS_skip=YES
--- bar_playlist: min=2 target=1
--- bar_check: early



=== TEST 2: more than 6 target durations listed: a delta update
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 9, 20);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=9 max=12 target=1
--- bar_check: delta



=== TEST 3: a blocking reload asking for a delta update
--- request
GET /live/ale/index.m3u8
--- bar_check: blocking_delta



=== TEST 4: part=off: _HLS_skip=YES gives the full playlist
--- request
GET /live/classic/index.m3u8
--- bar_playlist: min=7 target=1
--- bar_check: classic
