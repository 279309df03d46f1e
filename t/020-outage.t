# A camera that goes away and comes back (killed, restarted on the same
# port), then comes back with another resolution.  Watched by a client
# polling the playlist all along: what was published stays servable, the
# sequence never goes back, the new session starts after
# EXT-X-DISCONTINUITY, EXT-X-DISCONTINUITY-SEQUENCE counts the
# discontinuities that slid out, and a new resolution gets a new init
# segment name while the old one is still served (also when two new
# resolutions follow each other: three init segments listed at once).
# Measures the time from the camera's return to nginx's reconnection and
# to the first new part and segment.
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

our $Cam = start_camera(env => 'TEST_NGINX_CAM_PORT', gop => 25);
our $Multi = start_camera(env => 'TEST_NGINX_MULTI_PORT', gop => 25);

our @Seen;          # every playlist the watcher got: [time, status, text]
our %Before;        # the playlist before an outage
our %Took;          # measurements
our $OnPoll;        # called on every poll of watch()

my $Path = '/live/flaky/index.m3u8';

# GETs the playlist every 50 ms (remembering all of it) until $cond->($pl)
# or $secs; returns the time it took and the playlist, or ()
sub watch {
    my ($secs, $cond) = @_;
    my $t0 = time;
    my $end = $t0 + $secs;
    for (my $i = 0; $i < 5000 && time < $end; $i++) {
        $main::OnPoll->() if $main::OnPoll;
        my $res = http_get($Path);
        push @Seen, [time, $res->{status}, $res->{content} // ''];
        if ($res->{status} == 200) {
            my $pl = parse_ll($res->{content});
            return (time - $t0, $pl, $res->{content}) if $pl && $cond->($pl);
        }
        sleep 0.05;
    }
    return;
}

sub last_msn { my ($pl) = @_; @{ $pl->{segments} } ? $pl->{segments}[-1]{msn} : undef }

# takes the camera away for $down seconds, brings it back (with %opts),
# and times the first part and the first segment of the new session
sub outage {
    my ($what, $down, %opts) = @_;
    my (undef, $pl) = watch(20, sub { @{ $_[0]{segments} } >= 3 });
    Test::More::ok($pl, "$what: 3 segments listed before the outage") or return;
    $Before{$what} = $pl;
    my $last = last_msn($pl);
    my $mark = error_log_mark();

    stop_camera($main::Cam);
    my $t_gone = time;
    Test::More::ok(wait_for_log(qr/\[error\] .*bar_hls: camera "flaky": .*retrying in \d+ms$/, 15, $mark),
                   "$what: the lost camera is logged");
    # still served while it is away: the listed segments too
    my ($t, $away) = watch($down - (time - $t_gone), sub { 0 });
    my $res = http_get($Path);
    my $now = parse_ll($res->{content});
    Test::More::is($res->{status}, 200, "$what: the playlist is served while the camera is away");
    my @bad = grep { http_get("/live/flaky/$_->{uri}")->{status} != 200 } @{ $now->{segments} || [] };
    Test::More::ok($now && @{ $now->{segments} } && !@bad,
                   "$what: its listed segments are served while the camera is away")
        or Test::More::diag("not served: @{[ map $_->{uri}, @bad ]}");
    Test::More::is(http_get("/live/flaky/" . $now->{segments}[-1]{map})->{status}, 200,
                   "$what: its init segment is served while the camera is away") if $now;

    # the old session's last segment: still open (it is closed by the
    # first part of the next session)
    $last = $now->{open} && defined $now->{open}{msn} ? $now->{open}{msn} : last_msn($now);
    $Before{$what}{old_last} = $last;
    measure('%s: while the camera is away the playlist %s', $what,
            $now->{open} ? "keeps seg-$last open (parts, a preload hint, no EXTINF)"
                         : "lists seg-$last as complete");

    $main::Cam = restart_camera($main::Cam, %opts);
    my $t_back = time;
    # when nginx connects to the camera again (its next retry)
    my $t_conn;
    local $OnPoll = sub { $t_conn //= time - $t_back if (camera_stats($main::Cam)->{total} // 0) > 0 };
    my ($t_part) = watch(40, sub {
        grep { defined $_->{msn} && $_->{msn} > $last }
             map { @{ $_->{parts} } } @{ $_[0]{segments} }, $_[0]{open} || ();
    });
    my ($t_seg, $after) = watch(40 - ($t_part // 40), sub {
        grep { $_->{msn} > $last } @{ $_[0]{segments} } });
    $t_seg += $t_part if defined $t_seg && defined $t_part;
    Test::More::ok(defined $t_part, "$what: a new part after the camera came back");
    Test::More::ok(defined $t_seg, "$what: a new segment after the camera came back");
    measure('%s: camera away %.1fs; back -> nginx reconnects %s s (its next retry), first new part %s s, '
            . 'first new segment %s s', $what, $t_back - $t_gone,
            defined $t_conn ? sprintf('%.2f', $t_conn) : 'never',
            defined $t_part ? sprintf('%.2f', $t_part) : 'never',
            defined $t_seg ? sprintf('%.2f', $t_seg) : 'never');
    $Took{$what} = [$t_part, $t_seg];
    return $after;
}

# the first new segment comes after EXT-X-DISCONTINUITY, the sequence
# went on
sub check_came_back {
    my ($block, $body, $what) = @_;
    my $name = $block->name;
    my $old = $Before{$what} or return fail("$name - no playlist before");
    my $new = parse_ll($body);
    my $last = $old->{old_last};
    ok($new->{sequence} >= $old->{sequence},
       "$name - EXT-X-MEDIA-SEQUENCE did not go back ($old->{sequence} -> $new->{sequence})");
    my @segs = @{ $new->{segments} };
    my ($first_new) = grep { $_->{msn} > $last } @segs, $new->{open} && defined $new->{open}{msn} ? $new->{open} : ();
    ok($first_new, "$name - a segment after seg-$last.m4s") or return;
    is($first_new->{msn}, $last + 1, "$name - the first new segment is seg-" . ($last + 1) . ".m4s");
    if ($first_new->{msn} > $segs[0]{msn}) {
        ok($first_new->{discontinuity}, "$name - EXT-X-DISCONTINUITY before seg-$first_new->{msn}.m4s");
    }
    my @extra = grep { $_->{discontinuity} && $_->{msn} != $first_new->{msn} } @segs;
    ok(!@extra, "$name - no other EXT-X-DISCONTINUITY") or diag($body);
    for my $seg (grep { $_->{msn} > $last } @segs) {
        my $r = probe_segment('/live/flaky', $seg->{map}, $seg->{uri});
        ok($r->{rc} == 0 && ($r->{video} // 0) > 0 && $r->{first_key},
           "$name - new $seg->{uri} decodes with $seg->{map}, from a keyframe")
            or diag("rc $r->{rc}: $r->{err}");
    }
}

sub check_back1 { check_came_back(@_, 'outage') }

# all the playlists seen so far tell one story
sub check_history {
    my ($block) = @_;
    my $name = $block->name;
    my (%dsn, %map, %pdt, @problems);
    my ($seq, $ds, $fail) = (0, 0, 0);
    for my $seen (@Seen) {
        my ($t, $status, $text) = @$seen;
        if ($status != 200) {
            $fail++;
            next;
        }
        my $pl = parse_playlist($text) or do { push @problems, "not a playlist: $text"; next };
        push @problems, "EXT-X-MEDIA-SEQUENCE went back: $seq -> $pl->{sequence}"
            if $pl->{sequence} < $seq;
        $seq = $pl->{sequence};
        my $d = $pl->{disc_sequence} // 0;
        push @problems, "EXT-X-DISCONTINUITY-SEQUENCE went back: $ds -> $d" if $d < $ds;
        $ds = $d;
        for my $seg (@{ $pl->{segments} }) {
            $d++ if $seg->{discontinuity};
            my $m = $seg->{msn};
            push @problems, "seg-$m: discontinuity sequence $dsn{$m} then $d"
                if defined $dsn{$m} && $dsn{$m} != $d;
            push @problems, "seg-$m: EXT-X-MAP $map{$m} then $seg->{map}"
                if defined $map{$m} && $map{$m} ne $seg->{map};
            push @problems, "seg-$m: PROGRAM-DATE-TIME $pdt{$m} then $seg->{pdt_text}"
                if defined $pdt{$m} && $pdt{$m} ne $seg->{pdt_text};
            $dsn{$m} //= $d;
            $map{$m} //= $seg->{map};
            $pdt{$m} //= $seg->{pdt_text};
        }
    }
    is($fail, 0, "$name - every one of " . scalar(@Seen) . " playlist requests was 200");
    ok(!@problems, "$name - sequence, discontinuity sequence, maps and dates consistent "
                   . "across all playlists seen") or diag(join "\n", @problems[0 .. ($#problems > 9 ? 9 : $#problems)]);
}

# the discontinuity slid out of the window: counted in the header
sub check_disc_sequence {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_playlist($body);
    is($pl->{disc_sequence}, 1, "$name - EXT-X-DISCONTINUITY-SEQUENCE:1");
    ok(!(grep { $_->{discontinuity} } @{ $pl->{segments} }),
       "$name - no EXT-X-DISCONTINUITY listed any more");
}

sub check_new_size {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $old = $Before{resize} or return fail("$name - no playlist before");
    my $new = parse_ll($body);
    my $last = $old->{old_last};
    my $old_map = $old->{segments}[-1]{map};
    my @old = grep { $_->{msn} <= $last } @{ $new->{segments} };
    my @fresh = grep { $_->{msn} > $last } @{ $new->{segments} };
    ok(@old && @fresh, "$name - old and new segments listed") or return diag($body);
    is($old[-1]{map}, $old_map, "$name - the old segments keep $old_map");
    my $new_map = $fresh[0]{map} // '';
    isnt($new_map, $old_map, "$name - the new segments have another init segment ($new_map)");
    like($new_map, qr/^init-[0-9a-f]{8}\.mp4$/, "$name - named init-<crc32>.mp4");
    ok($fresh[0]{discontinuity}, "$name - EXT-X-DISCONTINUITY before the first new segment");
    like($body, qr/#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="\Q$new_map\E"\n/,
         "$name - EXT-X-MAP switches right after the discontinuity");
    my $a = http_get("/live/flaky/$old_map");
    my $b = http_get("/live/flaky/$new_map");
    is($a->{status}, 200, "$name - the old init segment is still served while listed");
    is($b->{status}, 200, "$name - the new init segment is served");
    isnt(md5_hex($a->{content}), md5_hex($b->{content}), "$name - they differ");
    is(md5_hex(http_get('/live/flaky/init.mp4')->{content}), md5_hex($b->{content}),
       "$name - init.mp4 is the new one");
    my $r = probe_segment('/live/flaky', $new_map, $fresh[-1]{uri});
    my ($v) = grep { $_->{codec_type} eq 'video' } @{ $r->{streams} };
    is(($v->{width} // 0) . 'x' . ($v->{height} // 0), '320x180',
       "$name - the new segments are 320x180 with the new init");
    $r = probe_segment('/live/flaky', $old_map, $old[-1]{uri});
    ($v) = grep { $_->{codec_type} eq 'video' } @{ $r->{streams} };
    is(($v->{width} // 0) . 'x' . ($v->{height} // 0), '640x360',
       "$name - the old segments are still 640x360 with the old init");
}

# the camera comes back twice in a row with another resolution, quickly:
# three init segments listed at once, each must still be served
our @Sizes;

sub three_sizes {
    my $path = '/live/multi/index.m3u8';
    BarHls::Test::wait_for_playlist($path, 2, 20);
    for my $size ('320x180', '480x272') {
        my $pl = parse_playlist(http_get($path)->{content});
        my %maps = map { $_->{map} => 1 } @{ $pl->{segments} };
        stop_camera($main::Multi);
        $main::Multi = restart_camera($main::Multi, size => $size);
        # a complete segment with a new init segment
        my $ok = BarHls::Test::wait_for_playlist($path, 1, 20, sub {
            grep { !$maps{ $_->{map} } && defined $_->{msn} } @{ parse_playlist($_[0])->{segments} } });
        Test::More::ok($ok, "multi: streams $size");
    }
}

sub check_three_inits {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_playlist($body);
    my %seg;
    push @{ $seg{ $_->{map} } }, $_ for @{ $pl->{segments} };
    my @maps = sort { $seg{$a}[0]{msn} <=> $seg{$b}[0]{msn} } keys %seg;
    is(scalar @maps, 3, "$name - three init segments listed (@maps)") or diag($body);
    my @want = ('640x360', '320x180', '480x272');
    for my $i (0 .. $#maps) {
        my $map = $maps[$i];
        my $res = http_get("/live/multi/$map");
        is($res->{status}, 200, "$name - $map (listed, $want[$i]): 200");
        my $r = probe_segment('/live/multi', $map, $seg{$map}[-1]{uri});
        my ($v) = grep { $_->{codec_type} eq 'video' } @{ $r->{streams} };
        is(($v->{width} // 0) . 'x' . ($v->{height} // 0), $want[$i],
           "$name - $seg{$map}[-1]{uri} decodes as $want[$i] with $map");
    }
}

run_tests();

__DATA__

=== TEST 1: streaming
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
# window=3: and never less than three target durations (RFC 8216bis
# 6.2.2): 3 segments, or 4 when one is short
bar_hls_camera flaky rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s window=3;
bar_hls_camera multi rtsp://127.0.0.1:$TEST_NGINX_MULTI_PORT/stream1 segment=1s window=12;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Test::wait_playlist_ok('/live/flaky/index.m3u8', 3, 20);
--- request
GET /live/flaky/index.m3u8
--- bar_playlist: min=3 max=4 target=1
--- error_log
bar_hls: camera "flaky": streaming 640x360
--- no_error_log
[error]



=== TEST 2: killed for 3 s and restarted on the same port
--- init
main::outage('outage', 3);
--- request
GET /live/flaky/index.m3u8
--- bar_playlist: min=2 max=4 target=1
--- bar_check: back1



=== TEST 3: once the discontinuity slid out, EXT-X-DISCONTINUITY-SEQUENCE:1
--- init
my $last = $main::Before{outage}{old_last};
main::watch(20, sub { $_[0]{sequence} > $last + 1 });
--- request
GET /live/flaky/index.m3u8
--- bar_playlist: min=3 max=4 target=1
--- bar_check: disc_sequence



=== TEST 4: back with another resolution: a new init segment name
--- init
main::outage('resize', 2, size => '320x180');
my $last = $main::Before{resize}{old_last};
main::watch(20, sub { (grep { $_->{msn} > $last } @{ $_[0]{segments} }) >= 2 });
--- request
GET /live/flaky/index.m3u8
--- bar_check: new_size
--- error_log
bar_hls: camera "flaky": streaming 320x180



=== TEST 5: every playlist seen by the watcher was consistent
--- init
my $last = $main::Before{resize}{old_last};
main::watch(20, sub { $_[0]{sequence} > $last + 1 });
--- request
GET /live/status
--- bar_check: history



=== TEST 6: two new resolutions in a row: every listed init segment is served
--- init
main::three_sizes();
--- request
GET /live/multi/index.m3u8
--- bar_playlist: min=3 target=1
--- bar_check: three_inits
