# EXT-X-PRELOAD-HINT: a GET of the hinted part waits for it and returns
# the whole part (moof+mdat, video/mp4), the same bytes the part has once
# listed; a part beyond the hint is 404 at once; clients that give up
# while waiting leave nothing behind.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use IO::Socket::INET ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

start_camera(env => 'TEST_NGINX_CAM_PORT', gop => 25);

sub hint {
    my $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content}) or return;
    return ($pl->{hint}{msn}, $pl->{hint}{part}, $pl);
}

sub check_hinted {
    my ($block) = @_;
    my $name = $block->name;
    my ($ok, $boundary, @took, @bad) = (0, 0);
    for my $try (1 .. 8) {
        last if $ok >= 3;
        my ($m, $n) = hint();
        my $uri = "/live/ale/part-$m.$n.m4s";
        # three clients for the same hinted part
        my $res = parallel_get([($uri) x 3], timeout => 10);
        my %st;
        $st{ $_->{status} }++ for @$res;
        if (($st{404} // 0) == 3) {
            # the next part began a new segment: seg-$m ended with $n parts
            my $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content});
            my ($seg) = grep { $_->{msn} == $m } @{ $pl->{segments} };
            push @bad, "$uri: 404 but seg-$m is " . ($seg ? scalar(@{ $seg->{parts} }) . ' parts' : 'not listed')
                unless $seg && @{ $seg->{parts} } == $n;
            $boundary++;
            next;
        }
        if (($st{200} // 0) != 3) {
            push @bad, "$uri: " . join(', ', map { "$_ x$st{$_}" } sort keys %st);
            next;
        }
        $ok++;
        push @took, map { $_->{took} } @$res;
        my $later = http_get($uri);
        my @md5 = map { md5_hex($_->{body}) } @$res;
        push @bad, "$uri: the waiting clients got different bytes" if grep { $_ ne $md5[0] } @md5;
        push @bad, "$uri: not the bytes it has later" if md5_hex($later->{content}) ne $md5[0];
        push @bad, "$uri: Content-Type $res->[0]{headers}{'content-type'}"
            unless ($res->[0]{headers}{'content-type'} // '') eq 'video/mp4';
        push @bad, "$uri: Content-Length $res->[0]{headers}{'content-length'} for "
                   . length($res->[0]{body}) . ' bytes'
            unless ($res->[0]{headers}{'content-length'} // -1) == length $res->[0]{body};
        push @bad, "$uri: " . box_types($res->[0]{body}) if box_types($res->[0]{body}) ne 'moof mdat';
        my $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content});
        my ($listed) = grep { $_->{uri} eq "part-$m.$n.m4s" }
                       map { @{ $_->{parts} } } @{ $pl->{segments} }, $pl->{open} || ();
        push @bad, "$uri: not listed as EXT-X-PART afterwards" unless $listed;
        my $r = probe_segment('/live/ale', $pl->{map}, "part-$m.$n.m4s");
        push @bad, "$uri: does not decode: $r->{err}" if $r->{rc} != 0 || !$r->{video};
    }
    ok($ok >= 3, "$name - the hinted part was served whole 3 times ($boundary hint(s) at a segment end: 404)");
    ok(!@bad, "$name - as video/mp4 moof+mdat, the bytes it is listed with") or diag(join "\n", @bad);
    @took = sort { $a <=> $b } @took;
    measure('GET of the hinted part: answered after %.3f .. %.3f s; %d hint(s) named a part that did '
            . 'not come (the next part began a new segment: 404)', $took[0] // -1, $took[-1] // -1, $boundary);
}

# parts beyond the hint: 404, not held.  "Beyond" is only known for the
# playlist of the moment: a try counts when the hint did not move from
# before the requests were sent until after they were answered (else the
# first of them may have become the hint meanwhile and been held)
sub check_beyond {
    my ($block) = @_;
    my $name = $block->name;
    my ($res, @moved);
    for my $try (1 .. 10) {
        my ($m, $n) = hint();
        next unless defined $n;
        my $r = parallel_get(["/live/ale/part-$m." . ($n + 1) . '.m4s', '/live/ale/part-' . ($m + 2) . '.0.m4s',
                              '/live/ale/part-' . ($m + 1) . '.1.m4s'], timeout => 10);
        my ($m2, $n2) = hint();
        if (defined $n2 && $m2 == $m && $n2 == $n) {
            $res = $r;
            last;
        }
        push @moved, sprintf('part-%s.%s -> part-%s.%s (%s)', $m, $n, $m2 // '?', $n2 // '?',
                             join(' ', map { "$_->{status}:" . sprintf('%.3fs', $_->{took} // -1) } @$r));
    }
    ok($res, "$name - a try with the hint unchanged from request to answer ("
       . scalar(@moved) . ' tries while it moved)') or diag(join "\n", @moved);
    for my $r (@{ $res || [] }) {
        is($r->{status}, 404, "$name - $r->{path} (beyond the hint): 404");
        # (a hold would last until the part came, or the block timeout)
        ok(($r->{took} // 99) < 4, "$name - $r->{path}: at once (" . sprintf('%.3fs', $r->{took} // -1) . ')');
    }
}

# a hint after the last part of a segment: the next part begins the next
# segment, so the hinted one never comes: answered (404) as soon as the
# segment is complete, not at the block timeout.  How many parts a
# segment has depends on the camera's GOPs: the hint to wait for is the
# part after as many parts as the last complete segment had; should this
# segment turn out longer (the hinted part came: 200), the next one is
# tried.
sub check_segment_end {
    my ($block) = @_;
    my $name = $block->name;
    my ($m, $n, $res, @tries);
    for my $try (1 .. 3) {
        my $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content});
        my ($last) = grep { defined $_->{duration} } reverse @{ $pl ? $pl->{segments} : [] };
        my $want = $last ? scalar @{ $last->{parts} } : 10;
        BarHls::Test::wait_until(6, 0.03, sub { ($m, $n) = hint(); defined $n && $n == $want });
        if (!defined $n || $n != $want) {
            push @tries, "no hint at part $want of a segment (last: part-" . ($m // '?') . '.' . ($n // '?') . ')';
            next;
        }
        $res = parallel_get(["/live/ale/part-$m.$n.m4s", "/live/ale/part-" . ($m + 1) . '.0.m4s'], timeout => 10);
        last if $res->[0]{status} == 404;
        push @tries, "part-$m.$n.m4s came ($res->[0]{status}): seg-$m is longer than seg-$last->{msn}";
        undef $res;
    }
    ok($res, "$name - a hint after a segment's last part, part-" . ($m // '?') . '.' . ($n // '?'))
        or return diag(join "\n", @tries);
    is($res->[0]{status}, 404, "$name - part-$m.$n.m4s: 404");
    # (a hold would last until the block timeout)
    ok($res->[0]{took} < 4, "$name - once seg-$m is complete (" . sprintf('%.3fs', $res->[0]{took}) . ')');
    is($res->[1]{status}, 200, "$name - part-" . ($m + 1) . '.0.m4s (the next segment\'s first): 200');
    is(box_types($res->[1]{body}), 'moof mdat', "$name - a whole part");
    my $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content});
    my ($seg) = grep { $_->{msn} == $m } @{ $pl->{segments} };
    is($seg && scalar @{ $seg->{parts} }, $n, "$name - seg-$m has $n parts");
    measure('hint part-%s.%s after a segment\'s last part: 404 after %.3f s; part-%s.0: 200 after %.3f s',
            $m, $n, $res->[0]{took}, $m + 1, $res->[1]{took});
}

# clients that hang up while they wait for the hinted part or a blocking
# reload: nothing breaks, the next ones are served
sub check_give_up {
    my ($block) = @_;
    my $name = $block->name;
    my ($m, $n) = hint();
    my @socks;
    for my $path ("/live/ale/part-$m.$n.m4s", "/live/ale/index.m3u8?_HLS_msn=$m&_HLS_part=$n",
                  "/live/ale/index.m3u8?_HLS_msn=" . ($m + 1), "/live/ale/part-$m.$n.m4s") {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => nginx_port(),
                                      Proto => 'tcp', Timeout => 5) or next;
        print $s "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n";
        push @socks, $s;
    }
    is(scalar @socks, 4, "$name - 4 waiting clients");
    sleep 0.02;
    close $_ for @socks;
    ($m, $n) = hint();
    my $res = parallel_get(["/live/ale/part-$m.$n.m4s", "/live/ale/index.m3u8?_HLS_msn=$m&_HLS_part=$n"],
                           timeout => 10);
    # 200, or 404 when the hint was the part after a segment's last one
    my $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content});
    my ($seg) = grep { $_->{msn} == $m } @{ $pl ? $pl->{segments} : [] };
    my $ended = $seg && defined $seg->{duration} && @{ $seg->{parts} } == $n;
    is($res->[0]{status}, $ended ? 404 : 200, "$name - the next hinted part-$m.$n.m4s is answered ("
       . ($ended ? "seg-$m ended before it: 404" : 'it came: 200') . ')');
    is($res->[1]{status}, 200, "$name - the next blocking reload is answered");
    is(http_get('/live/ale/index.m3u8')->{status}, 200, "$name - the playlist is served");
}

run_tests();

__DATA__

=== TEST 1: streaming
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1;
--- config
location /live/ {
    bar_hls;
    # well above the "at once" bounds: a hold cannot pass for an answer
    bar_hls_block_timeout 8s;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 1, 15);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=1 target=2
--- response_body_like: \n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-\d+\.\d+\.m4s"\n\z



=== TEST 2: GET of the hinted part: the whole part once it exists
--- request
GET /live/ale/index.m3u8
--- bar_check: hinted
--- no_error_log
[error]



=== TEST 3: a part beyond the hint: 404 at once
--- request
GET /live/ale/index.m3u8
--- bar_check: beyond



=== TEST 4: a hint after the last part of a segment
--- request
GET /live/ale/index.m3u8
--- bar_check: segment_end



=== TEST 5: clients giving up while they wait
--- request
GET /live/ale/index.m3u8
--- bar_check: give_up
--- no_error_log
[error]
