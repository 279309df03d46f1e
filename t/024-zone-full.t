# A zone too small at run time: three cameras whose bitrate= estimate
# gets them past `nginx -t`, in a 1m zone that holds a few seconds of
# their real ~800 kbit/s.  The oldest media goes first, "the zone is full"
# is logged with the camera's name, every playlist stays valid, what it
# lists is served and decodes, and nothing crashes.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use File::Spec ();
use JSON::PP ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

# A zone too small for the cameras on purpose: it cannot keep three
# target durations of each (RFC 8216bis 6.2.2), and says so in the log
# and the status; the other rules of the playlist checker still apply.
$BarHls::Checker::Ignore{'live-duration'} = 'the zone is full on purpose';

our @Cams = qw(c1 c2 c3);
start_camera(env => "TEST_NGINX_C${_}_PORT", gop => 25) for 1 .. 3;

our (%Listed, %Served, %Missing, %Evicted, %Newest, %Seen, $ZoneFullSeen);

# video packet times of init + segment: (pts, ...) in seconds
sub video_pts {
    my ($cam, $map, $seg) = @_;
    my $file = File::Spec->catfile(File::Spec->tmpdir, "bar-hls-024-$$.mp4");
    open my $fh, '>', $file or die "$file: $!";
    binmode $fh;
    print $fh http_get("/live/$cam/$map")->{content} // '', http_get("/live/$cam/$seg")->{content} // '';
    close $fh;
    my ($rc, $out, $err) = BarHls::Test::run_cmd(
        ['ffprobe', '-v', 'error', '-select_streams', 'v', '-show_entries',
         'packet=pts_time', '-of', 'json', $file], 30);
    unlink $file;
    my $json = eval { JSON::PP::decode_json($out) } || {};
    return ($rc, $err, map { $_->{pts_time} } @{ $json->{packets} || [] });
}

# watches all cameras for a while: playlists, and the segments they list
sub watch_full {
    my $mark = 0;
    my $t0 = time;
    my $full = wait_for_log(qr/the zone is full/, 25);
    Test::More::ok($full, sprintf 'the zone got full (%.1fs)', time - $t0);
    # before its first segment a camera's playlist is 503: from then on,
    # a full zone must not take it away
    BarHls::Test::wait_playlist_ok("/live/$_/index.m3u8", 1, 20) for @Cams;
    my $end = time + 8;
    for (my $i = 0; $i < 200 && time < $end; $i++) {
        for my $cam (@Cams) {
            my $res = http_get("/live/$cam/index.m3u8");
            $Seen{$cam}{ $res->{status} }++;
            next unless $res->{status} == 200;
            my $pl = parse_playlist($res->{content}) or next;
            my @segs = @{ $pl->{segments} };
            $Listed{$cam}{ scalar @segs }++;
            for my $seg (@segs) {
                my $st = http_get("/live/$cam/$seg->{uri}")->{status};
                if ($st == 200) { $Served{$cam}++; next }
                # evicted since the playlist was fetched is fine, as long
                # as the playlist no longer lists it
                my $now = http_get("/live/$cam/index.m3u8");
                if ($now->{status} == 200
                    && index($now->{content}, "\n$seg->{uri}\n") < 0)
                {
                    $Evicted{$cam}++;
                    next;
                }
                push @{ $Missing{$cam} }, "$seg->{uri}: $st";
            }
            push @{ $Newest{$cam} }, @segs ? $segs[-1]{uri} : undef;
        }
        my $st = status_json();
        $ZoneFullSeen++ if $st && grep { $_->{zone_full} } values %{ $st->{cameras} };
        sleep 0.2;
    }
    for my $cam (@Cams) {
        measure('%s: playlists listing N segments (N: times): %s; listed segments served %d, '
                . 'evicted and delisted before their turn %d, not served %d',
                $cam, join(' ', map { "$_: $Listed{$cam}{$_}" } sort { $a <=> $b } keys %{ $Listed{$cam} }),
                $Served{$cam} // 0, $Evicted{$cam} // 0, scalar @{ $Missing{$cam} || [] });
    }
}

sub check_watched {
    my ($block) = @_;
    my $name = $block->name;
    for my $cam (@Cams) {
        my @codes = sort keys %{ $Seen{$cam} || {} };
        is("@codes", '200', "$name - $cam: every playlist request was 200");
        ok($Served{$cam}, "$name - $cam: listed segments were served");
        # the newest listed segment is kept (the zone evicts the oldest)
        my @gone = grep { my $u = $_; grep { /^\Q$u\E:/ } @{ $Missing{$cam} || [] } }
                   grep { defined } @{ $Newest{$cam} || [] };
        ok(!@gone, "$name - $cam: the newest listed segment was always served")
            or diag(join "\n", @{ $Missing{$cam} });
    }
    my @lines = grep { /the zone is full/ } error_log_lines();
    ok(@lines, "$name - \"the zone is full\" logged");
    my @bad = grep { !/\[error\] .*bar_hls: camera "c[123]": the zone is full, (?:segments are evicted before they leave the playlist|media dropped until the next keyframe); make bar_hls_zone larger$/ } @lines;
    ok(!@bad, "$name - as an [error] naming the camera") or diag(@bad);
    ok($ZoneFullSeen, "$name - zone_full: true in the status while the zone was full");
    my %n;
    $n{$_}++ for map { /camera "(\w+)"/ ? $1 : () } @lines;
    measure('"the zone is full" lines: %s; zone_full seen in the status: %s',
            join(', ', map { "$_: " . ($n{$_} // 0) } @Cams), $ZoneFullSeen ? 'yes' : 'no');
}

# every listed segment decodes from a keyframe, and the media in it has no
# hole (a frame every 40 ms; one frame missing at a time is the camera's
# doing: x264enc drops late frames under load) unless the zone made the
# camera drop media ("media dropped until the next keyframe"); a camera
# whose segments were only evicted early keeps them whole.  At least one
# camera must be checked.
sub check_media {
    my ($block) = @_;
    my $name = $block->name;
    my %named = map { /camera "(\w+)": the zone is full, media dropped/ ? ($1 => 1) : () } error_log_lines();
    my @checked = grep { !$named{$_} } @Cams;
    ok(@checked, "$name - cameras that never dropped media, to check for holes: @checked");
    for my $cam (@Cams) {
        my $pl = parse_playlist(http_get("/live/$cam/index.m3u8")->{content});
        ok($pl && @{ $pl->{segments} }, "$name - $cam: lists segments") or next;
        my (@holes, @undecodable);
        for my $seg (@{ $pl->{segments} }) {
            my $r = probe_segment("/live/$cam", $seg->{map}, $seg->{uri});
            push @undecodable, "$seg->{uri}: status $r->{status}, rc $r->{rc}, first key "
                               . ($r->{first_key} // '?') . ": $r->{err}"
                if $r->{status} == 200 && ($r->{rc} != 0 || !$r->{first_key} || !$r->{video});
            my ($rc, $err, @pts) = video_pts($cam, $seg->{map}, $seg->{uri});
            my @gap = grep { $pts[$_] - $pts[$_ - 1] > 0.085 } 1 .. $#pts;
            push @holes, sprintf('%s (EXTINF %s): %d frames, %s', $seg->{uri}, $seg->{duration},
                                 scalar @pts, join(', ', map { sprintf '%.2fs missing after %.2f',
                                     $pts[$_] - $pts[$_ - 1] - 0.04, $pts[$_ - 1] } @gap))
                if @gap;
        }
        ok(!@undecodable, "$name - $cam: every listed segment decodes from a keyframe")
            or diag(join "\n", @undecodable);
        measure('%s: %d listed segments, %d with holes%s', $cam, scalar @{ $pl->{segments} },
                scalar @holes, @holes ? ': ' . join('; ', @holes) : '');
        # a camera the zone never refused keeps its media whole
        ok(!@holes, "$name - $cam: never dropped media, no hole in its media") or diag(join "\n", @holes)
            unless $named{$cam};
    }
}

sub check_status {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $st = eval { JSON::PP::decode_json($body) } || {};
    my $z = $st->{zone} || {};
    is($z->{size}, 1048576, "$name - zone size 1m");
    ok(defined $z->{used} && $z->{used} <= $z->{size} && $z->{used} + $z->{free} == $z->{size},
       "$name - used + free = size ($z->{used} + $z->{free})");
    for my $cam (@Cams) {
        my $c = $st->{cameras}{$cam} || {};
        is($c->{state}, 'streaming', "$name - $cam: streaming");
        ok(JSON::PP::is_bool($c->{zone_full}), "$name - $cam: zone_full is a boolean");
        ok(($c->{segments} // 0) >= 1, "$name - $cam: segments >= 1");
    }
}

# what is not listed any more is gone; what is listed is recent
sub check_oldest_first {
    my ($block) = @_;
    my $name = $block->name;
    for my $cam (@Cams) {
        my $pl = parse_playlist(http_get("/live/$cam/index.m3u8")->{content}) or next;
        my $seq = $pl->{sequence};
        is(http_get("/live/$cam/seg-" . ($seq - 12) . ".m4s")->{status}, 404,
           "$name - $cam: seg-<sequence - 12> evicted");
        my $age = time - $pl->{segments}[-1]{pdt};
        ok($age < 10, sprintf "$name - $cam: the newest segment is recent (%.1fs old)", $age);
    }
}

run_tests();

__DATA__

=== TEST 1: a zone too small for the cameras' real bitrate
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 1m;
bar_hls_camera c1 rtsp://127.0.0.1:$TEST_NGINX_C1_PORT/stream1 segment=1s bitrate=10k;
bar_hls_camera c2 rtsp://127.0.0.1:$TEST_NGINX_C2_PORT/stream1 segment=1s bitrate=10k;
bar_hls_camera c3 rtsp://127.0.0.1:$TEST_NGINX_C3_PORT/stream1 segment=1s bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
main::watch_full();
--- request
GET /live/c1/index.m3u8
--- bar_playlist: min=1 target=1
--- bar_check: watched



=== TEST 2: what is listed decodes
--- request
GET /live/c2/index.m3u8
--- bar_playlist: min=1 target=1
--- bar_check: media



=== TEST 3: the status shows the zone nearly full
--- request
GET /live/status
--- bar_check: status



=== TEST 4: the oldest media went first
--- request
GET /live/c3/index.m3u8
--- bar_playlist: min=1 target=1
--- bar_check: oldest_first
