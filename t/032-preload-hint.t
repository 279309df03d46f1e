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

# the hinted part: (msn, part, playlist, URI, number); msn and part are
# where it lands unless a keyframe makes it the next segment's first
sub hint {
    my $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content}) or return;
    return ($pl->{hint}{msn}, $pl->{hint}{part}, $pl, $pl->{hint}{uri}, $pl->{hint}{number});
}

# where a part is listed: (segment msn, index in it, the part)
sub listed {
    my ($pl, $uri) = @_;
    for my $seg (@{ $pl->{segments} }, $pl->{open} || ()) {
        my @p = @{ $seg->{parts} };
        for my $i (0 .. $#p) {
            return ($seg->{msn}, $i, $p[$i]) if $p[$i]{uri} eq $uri;
        }
    }
    return;
}

# A hint is a promise: the hinted part always comes, whichever segment
# it lands in (a keyframe may end the segment first).
sub check_hinted {
    my ($block) = @_;
    my $name = $block->name;
    my ($ok, $boundary, @took, @bad) = (0, 0);
    for my $try (1 .. 12) {
        last if $ok >= 6 && $boundary >= 1;
        my ($m, $n, undef, $uri) = hint();
        # three clients for the same hinted part
        my $res = parallel_get([("/live/ale/$uri") x 3], timeout => 10);
        my %st;
        $st{ $_->{status} }++ for @$res;
        if (($st{200} // 0) != 3) {
            push @bad, "$uri: " . join(', ', map { "$_ x$st{$_}" } sort keys %st);
            next;
        }
        $ok++;
        push @took, map { $_->{took} } @$res;
        my $later = http_get("/live/ale/$uri");
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
        my ($lm, $li, $part) = listed($pl, $uri);
        if (!defined $lm) {
            push @bad, "$uri: not listed as EXT-X-PART afterwards";
            next;
        }
        if ($lm != $m) {
            # a keyframe: the hinted part began the next segment
            push @bad, "$uri: hinted as part $n of seg-$m, listed as part $li of seg-$lm"
                unless $lm == $m + 1 && $li == 0 && $part->{independent};
            $boundary++;
        } elsif ($li != $n) {
            push @bad, "$uri: hinted as part $n of seg-$m, listed as part $li";
        }
        my $r = probe_segment('/live/ale', $pl->{map}, $uri);
        push @bad, "$uri: does not decode: $r->{err}" if $r->{rc} != 0 || !$r->{video};
    }
    ok($ok >= 6, "$name - the hinted part was served whole every time ($ok)");
    ok(!@bad, "$name - as video/mp4 moof+mdat, the bytes it is listed with, where it was hinted or first in "
       . "the next segment") or diag(join "\n", @bad);
    @took = sort { $a <=> $b } @took;
    measure('GET of the hinted part: answered after %.3f .. %.3f s; %d hint(s) began a new segment',
            $took[0] // -1, $took[-1] // -1, $boundary);
}

# parts beyond the hint: 404, not held.  "Beyond" is only known for the
# playlist of the moment: a try counts when the hint did not move from
# before the requests were sent until after they were answered (else the
# first of them may have become the hint meanwhile and been held)
sub check_beyond {
    my ($block) = @_;
    my $name = $block->name;
    my ($res, $k, @moved);
    for my $try (1 .. 10) {
        my (undef, undef, undef, $uri, $hint) = hint();
        next unless defined $hint;
        my $ext = $uri =~ /\.ts$/ ? 'ts' : 'm4s';
        my $r = parallel_get(['/live/ale/part-' . ($hint + 1) . ".$ext", '/live/ale/part-' . ($hint + 7) . ".$ext",
                              '/live/ale/part-' . ($hint + 1000) . ".$ext"], timeout => 10);
        my (undef, undef, undef, undef, $hint2) = hint();
        if (defined $hint2 && $hint2 == $hint) {
            ($res, $k) = ($r, $hint);
            last;
        }
        push @moved, sprintf('part-%s -> part-%s (%s)', $hint, $hint2 // '?',
                             join(' ', map { "$_->{status}:" . sprintf('%.3fs', $_->{took} // -1) } @$r));
    }
    ok($res, "$name - a try with the hint unchanged from request to answer ("
       . scalar(@moved) . ' tries while it moved)') or diag(join "\n", @moved);
    for my $r (@{ $res || [] }) {
        is($r->{status}, 404, "$name - $r->{path} (beyond the hint, part-$k): 404");
        # (a hold would last until the part came, or the block timeout)
        ok(($r->{took} // 99) < 4, "$name - $r->{path}: at once (" . sprintf('%.3fs', $r->{took} // -1) . ')');
    }
}

# the hint after a segment's last part (as many parts as the last complete
# segment had: the camera's GOPs say how many): the next part begins the
# next segment, and is the hinted one
sub check_segment_end {
    my ($block) = @_;
    my $name = $block->name;
    my ($m, $n, $pl, $uri, $want, $lm, $li, $part);
    for my $try (1 .. 3) {
        $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content});
        my ($last) = grep { defined $_->{duration} } reverse @{ $pl ? $pl->{segments} : [] };
        $want = $last ? scalar @{ $last->{parts} } : 10;
        BarHls::Test::wait_until(6, 0.03, sub { ($m, $n, $pl, $uri) = hint(); defined $n && $n == $want });
        next unless defined $n && $n == $want;
        my $res = parallel_get(["/live/ale/$uri"], timeout => 10);
        is($res->[0]{status}, 200, "$name - $uri: 200");
        is(box_types($res->[0]{body}), 'moof mdat', "$name - a whole part");
        $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content});
        ($lm, $li, $part) = listed($pl, $uri);
        # a longer segment this time: the hinted part came within it
        next if defined $lm && $lm == $m;
        measure('the hint after a segment\'s last part: %s, 200 after %.3f s', $uri, $res->[0]{took});
        last;
    }
    ok(defined $lm && $lm == $m + 1 && $li == 0 && $part->{independent},
       "$name - seg-$m ended with $want parts, " . ($uri // 'the hint') . ' began seg-' . (($m // 0) + 1)
       . ', INDEPENDENT=YES (' . (defined $lm ? "listed as part $li of seg-$lm" : 'not listed') . ')');
}

# clients that hang up while they wait for the hinted part or a blocking
# reload: nothing breaks, the next ones are served
sub check_give_up {
    my ($block) = @_;
    my $name = $block->name;
    my ($m, $n, undef, $uri) = hint();
    my @socks;
    for my $path ("/live/ale/$uri", "/live/ale/index.m3u8?_HLS_msn=$m&_HLS_part=$n",
                  "/live/ale/index.m3u8?_HLS_msn=" . ($m + 1), "/live/ale/$uri") {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => nginx_port(),
                                      Proto => 'tcp', Timeout => 5) or next;
        print $s "GET $path HTTP/1.1\r\nHost: localhost\r\n\r\n";
        push @socks, $s;
    }
    is(scalar @socks, 4, "$name - 4 waiting clients");
    sleep 0.02;
    close $_ for @socks;
    ($m, $n, undef, $uri) = hint();
    my $res = parallel_get(["/live/ale/$uri", "/live/ale/index.m3u8?_HLS_msn=$m&_HLS_part=$n"],
                           timeout => 10);
    is($res->[0]{status}, 200, "$name - the next hinted part is answered");
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
--- response_body_like: \n#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-\d+\.m4s"\n\z



=== TEST 2: GET of the hinted part: the whole part once it exists, whichever segment it lands in
--- request
GET /live/ale/index.m3u8
--- bar_check: hinted
--- no_error_log
[error]



=== TEST 3: a part beyond the hint: 404 at once
--- request
GET /live/ale/index.m3u8
--- bar_check: beyond



=== TEST 4: a hint after the last part of a segment: the next segment's first part
--- request
GET /live/ale/index.m3u8
--- bar_check: segment_end



=== TEST 5: clients giving up while they wait
--- request
GET /live/ale/index.m3u8
--- bar_check: give_up
--- no_error_log
[error]
