# LL-HLS blocking playlist reloads (master process, two workers, requests
# spread over both by a reuseport listener): ?_HLS_msn=M&_HLS_part=N
# holds until that part exists, on the worker that does not pull the
# camera too; answers at once when it exists; 400 when M is more than two
# segments beyond the last listed; 503 after bar_hls_block_timeout when
# the camera stalls.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

our $Cam = start_camera(env => 'TEST_NGINX_CAM_PORT', gop => 25);

# a second server whose listen socket is per worker (reuseport): the
# kernel spreads its connections over both workers
$ENV{TEST_NGINX_BAR_PORT2} = free_port();
our $Port2 = $ENV{TEST_NGINX_BAR_PORT2};

# the next part the playlist hints at: (msn, part, playlist, its URI):
# the part it names, whichever segment it begins or ends
sub hint {
    my $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content}) or return;
    return ($pl->{hint}{msn}, $pl->{hint}{part}, $pl, $pl->{hint}{uri});
}

# the pids that logged these request URIs on the second server
sub served_by {
    my (@uris) = @_;
    my %want = map { $_ => 1 } @uris;
    my $log = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/pids.log";
    my %pids;
    BarHls::Test::wait_until(3, 0.1, sub {
        open my $fh, '<', $log or return;
        %pids = ();
        my $n = 0;
        while (my $line = <$fh>) {
            my ($pid, $status, $uri) = split ' ', $line;
            next unless $want{$uri // ''};
            $pids{$pid}++;
            $n++;
        }
        return $n >= @uris;
    });
    return \%pids;
}

sub listed_parts {
    my ($text) = @_;
    my $pl = parse_ll($text) or return {};
    return { map { $_->{uri} => 1 } map { @{ $_->{parts} } } @{ $pl->{segments} }, $pl->{open} || () };
}

sub summary {
    my (@r) = @_;
    my %st;
    $st{ $_->{status} }++ for @r;
    return join ', ', map { "$_ x$st{$_}" } sort keys %st;
}

sub check_next_part {
    my ($block) = @_;
    my $name = $block->name;
    my ($m, $n, undef, $uri) = hint();
    ok(defined $m, "$name - the playlist hints at $uri, part $n of seg-$m") or return;
    # a distinct cache buster each, to tell the requests apart in the log
    my @uris = map { "/live/ale/index.m3u8?_HLS_msn=$m&_HLS_part=$n&t=$_" } 1 .. 12;
    my $t0 = time;
    my $res = parallel_get([map { [$_, $Port2] } @uris], timeout => 15);
    is(summary(@$res), '200 x12', "$name - 12 blocking requests for part $n of seg-$m: all 200");
    # the hinted part, in seg-$m or, if a keyframe ended it, in the next
    my @missing = grep { !listed_parts($_->{body})->{$uri} } @$res;
    ok(!@missing, "$name - every answer lists $uri") or diag($missing[0]{body});
    my @took = sort { $a <=> $b } map { $_->{took} // 99 } @$res;
    measure('blocking for the next part %s: answered after %.3f .. %.3f s', $uri, $took[0], $took[-1]);
    # (a 200 that lists the part cannot be the block timeout's 503)
    ok($took[-1] < 3, sprintf "$name - all answered before the 3 s block timeout (slowest %.3f s)", $took[-1]);
    my $pids = served_by(@uris);
    ok(keys %$pids >= 2, "$name - by both workers (" . join(', ', map { "$_: $pids->{$_}" } sort keys %$pids) . ')');
    is($res->[0]{headers}{'content-type'}, 'application/vnd.apple.mpegurl', "$name - a playlist");
    like($res->[0]{headers}{'cache-control'} // '', qr/^public, max-age=\d+$/, "$name - cacheable");
}

sub check_next_segment {
    my ($block) = @_;
    my $name = $block->name;
    my ($m, $n, $pl) = hint();
    # the open segment (or the next one) complete
    my @uris = map { "/live/ale/index.m3u8?_HLS_msn=$m&t=s$_" } 1 .. 8;
    my $res = parallel_get([map { [$_, $Port2] } @uris], timeout => 15);
    is(summary(@$res), '200 x8', "$name - 8 requests for seg-$m complete: all 200");
    my @missing = grep { $_->{body} !~ /^seg-$m\.m4s$/m } @$res;
    ok(!@missing, "$name - every answer lists seg-$m.m4s") or diag($missing[0]{body});
    my @took = sort { $a <=> $b } map { $_->{took} // 99 } @$res;
    measure('blocking for seg-%s to complete (it had %s parts): answered after %.3f .. %.3f s',
            $m, $n, $took[0], $took[-1]);
    my $pids = served_by(@uris);
    ok(keys %$pids >= 2, "$name - by both workers (" . join(', ', map { "$_: $pids->{$_}" } sort keys %$pids) . ')');
}

sub check_at_once {
    my ($block) = @_;
    my $name = $block->name;
    my ($m, $n, $pl) = hint();
    my $done = $pl->{segments}[-2];
    my @uris = ((map { "/live/ale/index.m3u8?_HLS_msn=$done->{msn}&_HLS_part=1&t=o$_" } 1 .. 6),
                (map { "/live/ale/index.m3u8?_HLS_msn=$done->{msn}&t=p$_" } 1 .. 6));
    my $res = parallel_get([map { [$_, $Port2] } @uris], timeout => 15);
    is(summary(@$res), '200 x12', "$name - 12 requests for what exists: all 200");
    my @took = sort { $a <=> $b } map { $_->{took} // 99 } @$res;
    measure('blocking requests for an existing part/segment: answered after %.3f .. %.3f s', $took[0], $took[-1]);
    # what exists is not waited for: the answers list what the requests
    # named, and come well before the next part would (a hang-stopper
    # bound, below the 3 s block timeout)
    my @wrong = grep { !listed_parts($_->{body})->{"part-$done->{msn}.1.m4s"} } @$res;
    ok(!@wrong, "$name - every answer lists part-$done->{msn}.1.m4s") or diag($wrong[0]{body});
    ok($took[-1] < 2.5, "$name - at once (slowest ${\ sprintf '%.3f', $took[-1]} s)");
}

sub check_too_far {
    my ($block) = @_;
    my $name = $block->name;
    my ($status, $last, $body);
    for (1 .. 3) {
        my ($m, $n, $pl) = hint();
        $last = $pl->{open} ? $m : $m - 1;      # the last segment listed
        my $res = http_get("/live/ale/index.m3u8?_HLS_msn=" . ($last + 3));
        ($status, $body) = ($res->{status}, $res->{content});
        last if $status == 400;
    }
    is($status, 400, "$name - _HLS_msn = last listed + 3: 400");
    like($body, qr/_HLS_msn/, "$name - the error says why");
    is(http_get("/live/ale/index.m3u8?_HLS_msn=" . ($last + 1000) . '&_HLS_part=0', port => $Port2)->{status},
       400, "$name - _HLS_msn far ahead: 400 (other server)");
    # two beyond is waited for, and answered once it exists (within the
    # 10 s block timeout of /patient/: the camera sends it within ~2 s)
    my $want = $last + 2;
    my $res = parallel_get(["/patient/ale/index.m3u8?_HLS_msn=$want&_HLS_part=0"], timeout => 15);
    is($res->[0]{status}, 200, "$name - _HLS_msn = last listed + 2: waited for, 200 ("
         . sprintf('%.2fs', $res->[0]{took} // -1) . ')');
    my $answer = parse_ll($res->[0]{body});
    ok($answer && (grep { $_->{msn} == $want && $_->{n} == 0 }
                   map { @{ $_->{parts} } } @{ $answer->{segments} }, $answer->{open} || ()),
       "$name - ... listing part 0 of seg-$want");
}

our ($StallRes, $StallMark);

sub stall {
    $StallMark = error_log_mark();
    pause_camera($main::Cam);
    # what was in flight arrives; then nothing
    sleep 1.5;
    my ($m, $n, undef, $uri) = hint();
    my @uris = map { "/live/ale/index.m3u8?_HLS_msn=$m&_HLS_part=$n&t=x$_" } 1 .. 8;
    $StallRes = { uris => \@uris, m => $m, n => $n, uri => $uri,
                  res => parallel_get([(map { [$_, $Port2] } @uris),
                                       "/live/ale/$uri"], timeout => 20) };
    resume_camera($main::Cam);
}

sub check_stalled {
    my ($block) = @_;
    my $name = $block->name;
    my @res = @{ $StallRes->{res} };
    my $part = pop @res;
    is(summary(@res), '503 x8', "$name - 8 blocking requests on a stalled camera: all 503");
    my @took = sort { $a <=> $b } map { $_->{took} // 99 } @res;
    measure('blocking requests on a stalled camera: 503 after %.3f .. %.3f s (bar_hls_block_timeout 3s)',
            $took[0], $took[-1]);
    ok($took[0] >= 2.5 && $took[-1] < 10, "$name - after the block timeout (3 s)");
    is($res[0]{headers}{'retry-after'}, '1', "$name - Retry-After: 1");
    is($res[0]{headers}{'cache-control'}, 'no-store', "$name - Cache-Control: no-store");
    my $pids = served_by(@{ $StallRes->{uris} });
    ok(keys %$pids >= 2, "$name - from both workers (" . join(', ', map { "$_: $pids->{$_}" } sort keys %$pids) . ')');
    is($part->{status}, 503, "$name - the hinted $StallRes->{uri}: 503 too");
    ok(wait_for_log(qr/\[info\] .*bar_hls: camera "ale": no new media in time for a waiting request/, 3, $StallMark),
       "$name - logged at info");
    # and it goes on
    my ($m) = hint();
    ok(BarHls::Test::wait_for_playlist('/live/ale/index.m3u8', 1, 15, sub {
        (grep { $_ > $m } playlist_msns($_[0])) }), "$name - the camera streams again after the stall");
}

run_tests();

__DATA__

=== TEST 1: streaming, two workers
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s;

log_format pids '$pid $status $request_uri';

server {
    listen 127.0.0.1:$TEST_NGINX_BAR_PORT2 reuseport;
    access_log $TEST_NGINX_SERVER_ROOT/logs/pids.log pids;

    location /live/ {
        bar_hls;
        bar_hls_block_timeout 3s;
    }
}
--- config
location /live/ {
    bar_hls;
    bar_hls_block_timeout 3s;
}
location /patient/ {
    bar_hls;
    bar_hls_block_timeout 10s;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- no_error_log
[error]



=== TEST 2: waiting for the next part, on both workers
--- request
GET /live/ale/index.m3u8
--- bar_check: next_part
--- no_error_log
[error]



=== TEST 3: waiting for the open segment to complete, on both workers
--- request
GET /live/ale/index.m3u8
--- bar_check: next_segment



=== TEST 4: what exists is answered at once
--- request
GET /live/ale/index.m3u8
--- bar_check: at_once



=== TEST 5: 400 for more than two segments ahead
--- request
GET /live/ale/index.m3u8
--- bar_check: too_far



=== TEST 6: the camera stalls: 503 after bar_hls_block_timeout
--- init
main::stall();
--- request
GET /live/ale/index.m3u8
--- bar_check: stalled
