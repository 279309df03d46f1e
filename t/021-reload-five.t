# Five `nginx -s reload`s in a row (master process, two workers) while a
# client polls both cameras' playlists every 200 ms: not one request
# fails, the media sequence never goes back, and no camera ever sees two
# RTSP sessions at once (the kernel's count of its connections, sampled
# every 10 ms).  Measures each handover and the longest overlap seen.
# Then one more reload while blocking LL-HLS requests wait in the old
# workers: they are answered.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use POSIX ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

our $Ale = start_camera(env => 'TEST_NGINX_CAM1_PORT', audio => 'aac', gop => 25);
our $Bob = start_camera(env => 'TEST_NGINX_CAM2_PORT', gop => 25);

our ($Poll, %MaxConn, %Seq0);

my @Paths = ('/live/ale/index.m3u8', '/live/bob/index.m3u8');

sub streaming_lines {
    return scalar grep { /bar_hls: camera "(ale|bob)": streaming / } error_log_lines();
}

sub five_reloads {
    for my $path (@Paths) {
        my $pl = parse_playlist(BarHls::Test::wait_for_playlist($path, 2, 15));
        $Seq0{$path} = $pl && $pl->{sequence};
    }
    $Poll = start_poller(paths => \@Paths, interval => 0.2, secs => 120);
    sleep 1;
    my %max = map { $_ => { camera => 0, client => 0 } } $Ale->{port}, $Bob->{port};
    for my $i (1 .. 5) {
        my $before = streaming_lines();
        my %seg = map { $_ => remember_segment("/live/$_") } qw(ale bob);
        my $master = nginx_master_pid();
        my @old = worker_pids();
        my $t0 = time;
        Test::More::ok($master && kill('HUP', $master), "reload $i: SIGHUP sent to the master");
        # both cameras streamed by the new workers (and one second more)
        my ($t_done, $n);
        my $m = max_sessions([$Ale->{port}, $Bob->{port}], 20, sub {
            $n = streaming_lines() - $before;
            $t_done //= time if $n >= 2;
            return $n >= 2;
        });
        for my $port (keys %$m) {
            for my $side (qw(camera client)) {
                next unless $m->{$port}{$side} > $max{$port}{$side};
                $max{$port}{$side} = $m->{$port}{$side};
                $max{$port}{client_seen} = "reload $i: $m->{$port}{client_seen}" if $side eq 'client';
            }
        }
        Test::More::ok($n >= 2, "reload $i: both cameras stream again")
            or Test::More::diag("streaming lines since the reload: $n");
        # the new workers serve what the old ones published: the zone survived
        same_segment_ok("reload $i - $_", $seg{$_}) for qw(ale bob);
        # the old workers are gone
        my $gone = BarHls::Test::wait_until(15, 0.1, sub { !grep { process_alive($_) } @old });
        Test::More::ok($gone, "reload $i: the old workers exited");
        measure('reload %d: both cameras streaming again %s s after SIGHUP; most connections at once '
                . '(camera side/nginx side): ale %d/%d, bob %d/%d',
                $i, defined $t_done ? sprintf('%.2f', $t_done - $t0) : 'never',
                map { ($m->{$_->{port}}{camera}, $m->{$_->{port}}{client}) } $Ale, $Bob);
        sleep 0.5;
    }
    %MaxConn = %max;
    # let the poller see the new workers' media for a while
    my $last = 0;
    BarHls::Test::wait_for_playlist($Paths[1], 2, 10, sub {
        my @m = playlist_msns($_[0]);
        $last ||= $m[-1];
        return $m[-1] >= $last + 2;
    });
}

sub check_polls {
    my ($block) = @_;
    my $name = $block->name;
    my $records = stop_poller($Poll);
    ok(@$records >= 2 * 5 * 5, "$name - the poller made " . scalar(@$records) . ' requests');
    my @failed = grep { $_->{status} != 200 } @$records;
    is(scalar @failed, 0, "$name - none failed")
        or diag(join "\n", map { "$_->{t} $_->{path}: $_->{status} $_->{why}" } @failed[0 .. ($#failed > 9 ? 9 : $#failed)]);
    for my $path (@Paths) {
        my @r = grep { $_->{path} eq $path && $_->{status} == 200 } @$records;
        my (@back, $seq, $last, $stall, $t_last);
        ($seq, $last, $stall) = (0, 0, 0);
        for my $r (@r) {
            push @back, "$r->{t}: sequence $seq -> $r->{seq}" if $r->{seq} < $seq;
            push @back, "$r->{t}: last segment $last -> $r->{last}" if $r->{last} < $last;
            if ($r->{last} > $last) {
                $stall = $r->{t} - $t_last if defined $t_last && $r->{t} - $t_last > $stall;
                $t_last = $r->{t};
            }
            $seq = $r->{seq};
            $last = $r->{last};
        }
        ok(!@back, "$name - $path: the media sequence never went back") or diag(join "\n", @back);
        ok($seq > ($Seq0{$path} // 0), "$name - $path: the sequence went on ($Seq0{$path} -> $seq)");
        measure('%s: longest time without a new segment during the reloads: %.2f s (segment=1s)',
                $path, $stall);
        ok($stall < 20, "$name - $path: never more than 20 s without a new segment");
        my @slow = sort { $b <=> $a } map { $_->{took} } @r;
        measure('%s: %d polls, slowest answer %.3f s', $path, scalar @r, $slow[0] // 0);
    }
}

sub check_sessions {
    my ($block) = @_;
    my $name = $block->name;
    my %pullers;
    for (error_log_lines()) {
        push @{ $pullers{$2} }, $1 if /\[info\] (\d+)#\d+: bar_hls: camera "(\w+)": pulling /;
    }
    for ([ale => $Ale], [bob => $Bob]) {
        my ($cam, $fc) = @$_;
        my $s = camera_stats($fc);
        my $txt = join ' ', map "$_=" . ($s->{$_} // '?'), qw(current max total);
        measure('%s: most RTSP connections at once over 5 reloads (kernel, 10 ms samples): camera side %d, '
                . 'nginx side %d; camera stats %s', $cam, $MaxConn{$fc->{port}}{camera},
                $MaxConn{$fc->{port}}{client}, $txt);
        is($MaxConn{$fc->{port}}{camera}, 1, "$name - $cam: never two RTSP connections at once, camera side (camera: $txt)");
        is($MaxConn{$fc->{port}}{client}, 1, "$name - $cam: never two RTSP connections at once, nginx side")
            or diag("the connections then (local remote): $MaxConn{$fc->{port}}{client_seen}");
        is($s->{current}, 1, "$name - $cam: one RTSP session now");
        is($s->{total}, 6, "$name - $cam: one session before and one after each reload ($txt)");
        # handovers as the camera saw them: next connect - previous close
        my (%open, %close, @gaps);
        for (split /\n/, BarHls::Test::slurp($fc->{log}) // '') {
            my ($h, $m, $sec, $id, $what) = /^(\d\d):(\d\d):(\d\d\.\d+) fake-camera: client (\d+) (connected|closed)/
                or next;
            ($what eq 'connected' ? \%open : \%close)->{$id} = $h * 3600 + $m * 60 + $sec;
        }
        my @ids = sort { $a <=> $b } keys %open;
        splice @ids, 0, $fc->{probes} // 0;
        push @gaps, map { $open{ $ids[$_] } - ($close{ $ids[$_ - 1] } // 0) } 1 .. $#ids;
        measure('%s: handovers seen by the camera (next session opened - previous closed): %s s',
                $cam, join(' ', map { sprintf '%+.3f', $_ } @gaps));
        my @pids = @{ $pullers{$cam} || [] };
        my %uniq = map { $_ => 1 } @pids;
        is(scalar @pids, 6, "$name - $cam: pulled 6 times");
        is(scalar keys %uniq, 6, "$name - $cam: by 6 different workers");
    }
}

# blocking requests waiting in the old workers while nginx reloads: they
# are answered (the old workers wait for them), and the camera still
# never sees two sessions although the old workers live on
our ($Pending, $MaxPending, $Waiting, $THup, $Asked);

sub reload_with_waiters {
    # the requests ask for what comes after the open segment: seg-M+1's
    # first part (ale) and seg-M+1 whole (bob), at least 0.6 s away when
    # the open segment M has just begun (and 1 s more for bob)
    my ($pl, $bob);
    BarHls::Test::wait_until(5, 0.02, sub {
        $pl = parse_ll(http_get('/live/ale/index.m3u8')->{content});
        return $pl && $pl->{hint} && defined $pl->{hint}{part} && $pl->{hint}{part} <= 1;
    });
    $bob = parse_ll(http_get('/live/bob/index.m3u8')->{content});
    my $m = $pl->{hint}{msn} + 1;
    my $mb = $bob->{hint}{msn} + 1;
    my @reqs = ((map { "/live/ale/index.m3u8?_HLS_msn=$m&_HLS_part=0&w=$_" } 1 .. 4),
                (map { "/live/bob/index.m3u8?_HLS_msn=$mb&w=$_" } 1 .. 4));
    # the requests go out, then the reload, then we collect the answers
    my $pid = open my $fh, '-|';
    die "fork: $!" unless defined $pid;
    if (!$pid) {
        my $res = parallel_get(\@reqs, timeout => 20);
        for my $r (@$res) {
            my $p = parse_ll($r->{body});
            my $has = !$p ? 0
                    : $r->{path} =~ m{/ale/} ? scalar(grep { $_->{msn} == $m && $_->{n} == 0 }
                                                       map { @{ $_->{parts} } } @{ $p->{segments} }, $p->{open} || ())
                    : scalar(grep { $_->{msn} == $mb } @{ $p->{segments} });
            printf "%s %.3f %.3f %d %s\n", $r->{status}, $r->{took} // -1,
                   ($r->{sent} // 0) + ($r->{took} // 0), $has, $r->{path};
        }
        POSIX::_exit(0);
    }
    sleep 0.2;
    # they wait: nothing of seg-M+1 yet
    my $now = parse_ll(http_get('/live/ale/index.m3u8')->{content});
    $Waiting = $now && $now->{hint}{msn} < $m;
    my $before = streaming_lines();
    $THup = time;
    kill 'HUP', nginx_master_pid();
    $MaxPending = max_sessions([$Ale->{port}, $Bob->{port}], 20, sub { streaming_lines() - $before >= 2 });
    my @lines = <$fh>;
    close $fh;
    $Pending = [map { [split ' '] } @lines];
    $Asked = { ale => "part 0 of seg-$m", bob => "seg-$mb.m4s" };
}

sub check_waiters {
    my ($block) = @_;
    my $name = $block->name;
    ok($Waiting, "$name - the requests were sent before what they ask for existed");
    is(scalar @$Pending, 8, "$name - 8 answers");
    is(scalar(grep { $_->[0] == 200 } @$Pending), 8, "$name - all 200")
        or diag(join "\n", map { "@$_" } @$Pending);
    # held: answered after the reload began, listing what they asked for
    my @early = grep { $_->[2] < $THup } @$Pending;
    ok(!@early, sprintf "$name - all answered after SIGHUP (%d before)", scalar @early)
        or diag(join "\n", map { "@$_" } @early);
    my @without = grep { !$_->[3] } @$Pending;
    ok(!@without, "$name - each lists what it asked for ($Asked->{ale} / $Asked->{bob})")
        or diag(join "\n", map { "@$_" } @without);
    measure('blocking requests pending across a reload: answered %s s after SIGHUP',
            join(' ', map { sprintf '%.3f', $_->[2] - $THup } @$Pending));
    for my $fc ($Ale, $Bob) {
        is($MaxPending->{$fc->{port}}{$_}, 1, "$name - camera on port $fc->{port}: never two RTSP connections ($_ side)")
            for qw(camera client);
    }
}

run_tests();

__DATA__

=== TEST 1: two cameras streaming
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM1_PORT/stream1 segment=1s;
bar_hls_camera bob rtsp://127.0.0.1:$TEST_NGINX_CAM2_PORT/stream1 segment=1s;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
BarHls::Test::wait_playlist_ok('/live/bob/index.m3u8', 2, 15);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- no_error_log
[error]



=== TEST 2: five reloads under a polling client: no failure, no going back
--- init
main::five_reloads();
--- request
GET /live/bob/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: polls sessions
--- no_error_log eval
[qr/\[error\] .*bar_hls: camera "\w+": (end of stream|network error|timed out|protocol error|authentication failed|unsupported)/]



=== TEST 3: a reload while blocking requests wait: they are answered
--- init
main::reload_with_waiters();
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: waiters
