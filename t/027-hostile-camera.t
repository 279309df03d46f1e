# Hostile cameras (t/tools/hostile-camera: real RTSP, crafted RTP) beside
# a healthy one, master and two workers: SPS storms and 00 00 01 inside
# NALs without sprop-parameter-sets, a 32 MB FU-A NAL, truncated FU-A,
# bad STAP-A, random payload types and channels, timestamp chaos, a
# flood, endless frames with one timestamp or one-tick steps, garbage.
# For 30 s the healthy camera's playlist must never go 1 s without a new
# part (less the poller's own pauses: the machine is shared, and a flood
# loads it), no worker may exit, the workers' RSS must stay within +200 MB
# (+256 MB under AddressSanitizer: its quarantine of freed memory), each
# hostile camera's status must make sense, the cameras past a bound must
# say so in error.log, and error.log names the cameras, never the
# password.  Measures the longest gap, the RSS growth, what every camera
# sent and what nginx counted.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use JSON::PP ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

# The good camera's PROGRAM-DATE-TIMEs (checked by bar_playlist): a loaded
# machine starves its encoder too; 1 s, the gap bound
$BarHls::Test::PdtTolerance = 1.0;

our $SOAK = 30;                 # seconds of hostility measured
our $GAP_MAX = 1.0;             # s without a new part on the good camera
our $RSS_MAX = 200;             # MB of growth per worker
# AddressSanitizer keeps up to 256 MB of freed memory in quarantine
our $ASAN_EXTRA = $ENV{BAR_HLS_SANITIZER_DIR} ? 256 : 0;

# what the camera of a bound should log, and say in its last_error
our $BOUND_RE = qr/max_bitrate|bitrate|\blimits?\b|\bbound\b|too\s(?:large|big|long|many)
                   |exceed|\bcap\b|oversized|\bover\s(?:a\s|the\s)?(?:limit|max|\d)/xi;

# name => [mode, options]; in nginx.conf in this order: camera i belongs to
# worker i mod 2, the heaviest share the good camera's worker (even i)
our @HOSTILE = (
    [storm     => 'sps-storm'],
    [flood     => 'flood', rate => 64],
    [trunc     => 'trunc-fua'],
    [samets    => 'same-ts', rate => 64],
    [stap      => 'stap-bad'],
    [giant     => 'giant-fua', giant_mb => 32, giant_every => 10],
    [junk      => 'random-pt'],
    [tiny      => 'tiny-steps', rate => 16],
    [chaos     => 'ts-chaos'],
    [garbage   => 'garbage'],
    [nosprop   => 'nosprop', audio => 'aac'],
    [startcode => 'startcodes'],
);
# past a bound of the issue (max_bitrate, frame size, same-DTS merges, the
# size of a part: tiny, at 16 Mbit/s, is below max_bitrate, but its parts
# never end): limited, and said so
our %BOUND = map { $_ => 1 } qw(flood samets giant tiny);
# real media, only without sprop-parameter-sets: must stream
our %LEGIT = map { $_ => 1 } qw(nosprop);
# keyframes keep coming between the mutations: streaming most of the time
our %RESUME = map { $_ => 1 } qw(trunc stap giant chaos nosprop startcode);

our $Good = start_camera(env => 'TEST_NGINX_GOOD_PORT', gop => 25,
                         audio => 'aac', auth => 'digest', user => 'admin',
                         password => $PASSWORD);
our %Cam;
for my $h (@HOSTILE) {
    my ($name, $mode, %o) = @$h;
    $Cam{$name} = start_hostile_camera(mode => $mode, seed => 27,
                                       env => 'TEST_NGINX_' . uc($name) . '_PORT', %o);
}

our %M;     # what the soak measured

sub vm_kb {
    my ($pid, $field) = @_;
    open my $fh, '<', "/proc/$pid/status" or return;
    while (my $line = <$fh>) {
        return $1 if $line =~ /^\Q$field\E:\s+(\d+) kB/;
    }
    return;
}

sub last_part {
    my ($body) = @_;
    my @p = $body =~ /^#EXT-X-PART:.*URI="(part-\d+(?:\.\d+)?\.m4s)"/mg;
    return $p[-1] if @p;
    my @s = $body =~ /^(seg-\d+\.m4s)$/mg;
    return $s[-1];
}

# $SOAK seconds: the good playlist every 0.1 s, the status every 0.5 s,
# the workers' RSS every second
sub soak {
    my $ok = BarHls::Test::wait_playlist_ok('/live/good/index.m3u8', 2, 20);
    my @workers = worker_pids();
    my %rss0 = map { $_ => vm_kb($_, 'VmRSS') // 0 } @workers;
    my $log0 = -s error_log_path() // 0;
    my ($t0, $last, $t_last, $gap, $gap_at) = (time, undef, undef, 0, '');
    my ($polls, @bad, %seen, $changes, $slowest, $t_prev, $loop_gap);
    # this process's own pauses (a loaded machine starves the poller too):
    # the time beyond 0.3 s between two polls, since the last new part, is
    # not the server's; the net gap leaves it out
    my ($starved, $net, $net_at) = (0, 0, '');
    my $end = $t0 + $SOAK;
    for (my $i = 0; $i < 10_000 && time < $end; $i++) {
        my $t = time;
        if (defined $t_prev) {
            my $d = $t - $t_prev;
            $loop_gap = $d if $d > ($loop_gap // 0);
            $starved += $d - 0.3 if $d > 0.3;
        }
        $t_prev = $t;
        my $res = http_get('/live/good/index.m3u8');
        $slowest = time - $t if time - $t > ($slowest // 0);
        $polls++;
        if ($res->{status} != 200) {
            push @bad, sprintf '%.1fs: %s', $t - $t0, $res->{status};
        } else {
            my $p = last_part($res->{content} // '');
            if (defined $p && (!defined $last || $p ne $last)) {
                my $now = time;
                my $since = $now - ($t_last // $t0);
                ($gap, $gap_at) = ($since, sprintf('%.1fs, before %s', $now - $t0, $p))
                    if $since > $gap;
                ($net, $net_at) = ($since - $starved, sprintf('%.1fs', $now - $t0))
                    if $since - $starved > $net;
                ($last, $t_last, $starved) = ($p, $now, 0);
                $changes++;
            }
        }
        if ($i % 5 == 0) {
            my $st = status_json() || {};
            for my $name (keys %{ $st->{cameras} || {} }) {
                my $c = $st->{cameras}{$name};
                my $s = $seen{$name} //= { states => {}, errors => {} };
                $s->{states}{ $c->{state} // '?' }++;
                $s->{errors}{ $c->{last_error} } = 1
                    if length($c->{last_error} // '') && keys %{ $s->{errors} } < 20;
                $s->{zone_full} = 1 if $c->{zone_full};       # JSON true
                $s->{last} = $c;
            }
        }
        if ($i % 10 == 0) {
            for my $pid (@workers) {
                my $r = vm_kb($pid, 'VmRSS') // 0;
                $M{rss_max}{$pid} = $r if $r > ($M{rss_max}{$pid} // 0);
            }
        }
        my $d = $t + 0.1 - time;
        sleep $d if $d > 0;
    }
    my $open = time - ($t_last // $t0);
    ($gap, $gap_at) = ($open, 'at the end') if $open > $gap;
    ($net, $net_at) = ($open - $starved, 'at the end') if $open - $starved > $net;
    %M = (%M, workers => \@workers, rss0 => \%rss0, polls => $polls,
          slowest => $slowest // 0, loop_gap => $loop_gap // 0,
          net => $net, net_at => $net_at,
          changes => $changes // 0, bad => \@bad, gap => $gap, gap_at => $gap_at,
          seen => \%seen, secs => time - $t0, log_bytes => (-s error_log_path() // 0) - $log0,
          hwm => { map { $_ => vm_kb($_, 'VmHWM') } @workers },
          rss1 => { map { $_ => vm_kb($_, 'VmRSS') } @workers },
          workers1 => [worker_pids()]);
}

sub check_soak {
    my ($block) = @_;
    my $name = $block->name;
    measure('good camera: longest time without a new part %.2f s (%s), %.2f s '
            . 'without the poller\'s own pauses (%s); %d polls, %d new parts seen in '
            . '%.1f s; slowest answer %.2f s, longest pause of the polling loop '
            . 'itself %.2f s (load average %s)', $M{gap}, $M{gap_at}, $M{net},
            $M{net_at}, $M{polls} // 0, $M{changes}, $M{secs} // 0, $M{slowest},
            $M{loop_gap}, (split ' ', BarHls::Test::slurp('/proc/loadavg') // '?')[0]);
    ok($M{net} <= $GAP_MAX, "$name - good: a new part at least every ${GAP_MAX}s "
       . sprintf('(longest gap %.2fs, %.2fs of it not the poller\'s own pause)',
                 $M{gap}, $M{net}));
    ok($M{changes} >= $SOAK * 2, "$name - good: new parts all along ($M{changes})");
    is(scalar @{ $M{bad} }, 0, "$name - good: every playlist poll answered 200")
        or diag(join "\n", @{ $M{bad} }[0 .. ($#{ $M{bad} } < 9 ? $#{ $M{bad} } : 9)]);

    # no worker exited: the same two pids, no "exited on signal" line
    my @w0 = @{ $M{workers} };
    is(scalar @w0, 2, "$name - two workers (@w0)");
    is("@{ $M{workers1} }", "@w0", "$name - the same workers at the end (no respawn)");
    my @exits = grep { /exited on signal|exited with code|worker process \d+ exited/ }
                error_log_lines();
    is(scalar @exits, 0, "$name - no worker exited") or diag(@exits);

    my $bound = $RSS_MAX + $ASAN_EXTRA;
    for my $pid (@w0) {
        my ($r0, $r1, $hwm) = map { ($_ // 0) / 1024 } $M{rss0}{$pid}, $M{rss1}{$pid}, $M{hwm}{$pid};
        my $peak = $hwm > ($M{rss_max}{$pid} // 0) / 1024 ? $hwm : ($M{rss_max}{$pid} // 0) / 1024;
        measure('worker %d: RSS %.0f MB before, %.0f MB after, peak %.0f MB: growth %+.0f MB '
                . '(peak %+.0f MB), bound +%d MB', $pid, $r0, $r1, $peak, $r1 - $r0,
                $peak - $r0, $bound);
        ok($peak - $r0 <= $bound, sprintf("$name - worker $pid: RSS growth within +%d MB (peak %+.0f MB)",
                                          $bound, $peak - $r0));
    }

    # every hostile camera was really played, and sent what it says
    my $st = status_json() || {};
    for my $h (@HOSTILE) {
        my ($cam) = @$h;
        my $s = hostile_stats($Cam{$cam});
        my $c = $st->{cameras}{$cam} || {};
        measure('%-9s %-10s sessions %d, sent %.1f MB; nginx: bytes_in %.1f MB, state %s, '
                . 'reconnects %d, segments %d; states seen: %s', $cam, $Cam{$cam}{mode},
                $s->{sessions} // 0, ($s->{bytes} // 0) / 1e6, ($c->{bytes_in} // 0) / 1e6,
                $c->{state} // '?', $c->{reconnects} // 0, $c->{segments} // 0,
                join(' ', map { "$_:$M{seen}{$cam}{states}{$_}" }
                          sort keys %{ $M{seen}{$cam}{states} || {} }));
        ok(($s->{sessions} // 0) >= 1, "$name - $cam: nginx PLAYed the $Cam{$cam}{mode} camera");
    }
}

sub check_status {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $st = eval { JSON::PP::decode_json($body) };
    ok($st && $st->{cameras}, "$name - status is JSON") or return;
    unlike($body, qr/\Q$PASSWORD\E/, "$name - no password in the status");
    my $g = $st->{cameras}{good} || {};
    is($g->{state}, 'streaming', "$name - good: streaming");
    is($g->{reconnects}, 0, "$name - good: never reconnected");
    ok(!$M{seen}{good}{zone_full} && defined $g->{zone_full} && !$g->{zone_full},
       "$name - good: its media was never evicted early (zone_full false all along)");
    for my $h (@HOSTILE) {
        my ($cam, $mode) = @$h;
        my $c = $st->{cameras}{$cam} || {};
        my $seen = $M{seen}{$cam} || {};
        my @errors = sort keys %{ $seen->{errors} || {} };
        diag("$cam ($mode): last_error seen: " . join(' | ', map { substr($_, 0, 160) } @errors))
            if @errors;
        like($c->{state} // '', qr/^(?:streaming|connecting|backoff|error|limited)$/,
             "$name - $cam: a known state (" . ($c->{state} // 'none') . ')');
        like($c->{url} // '', qr{^rtsp://\*\*\*\@127\.0\.0\.1:\d+/stream1$},
             "$name - $cam: url redacted");
        ok(($c->{state} // '') eq 'streaming' || length($c->{last_error} // ''),
           "$name - $cam: not streaming says why (" . ($c->{last_error} // '') . ')');
        my $pl = parse_playlist(http_get("/live/$cam/index.m3u8")->{content});
        my @segs = $pl ? @{ $pl->{segments} } : ();
        measure('%-9s state %s, %d segment(s) listed, %d discontinuities, newest '
                . 'PROGRAM-DATE-TIME %s', $cam, $c->{state} // '?', scalar @segs,
                scalar(grep { $_->{discontinuity} } @segs),
                @segs && defined $segs[-1]{pdt} ? sprintf('%.1f s ago', time - $segs[-1]{pdt})
                                                : 'none');
        if ($LEGIT{$cam}) {
            is($c->{state}, 'streaming', "$name - $cam: real media in band only streams");
            ok(($c->{segments} // 0) >= 2, "$name - $cam: segments published ("
               . ($c->{segments} // 0) . ')');
        }
        if ($RESUME{$cam}) {
            my %n = %{ $seen->{states} || {} };
            my $all = 0;
            $all += $_ for values %n;
            ok(($n{streaming} // 0) * 2 >= $all, "$name - $cam: streaming most of the time ("
               . ($n{streaming} // 0) . " of $all status samples)");
        }
        if ($BOUND{$cam}) {
            ok((grep { $_ =~ $BOUND_RE } @errors),
               "$name - $cam: last_error named the bound it passed at some point")
                or diag("$cam: states " . join(' ', %{ $seen->{states} || {} }));
        }
    }
}

sub check_log {
    my ($block) = @_;
    my $name = $block->name;
    my @lines = error_log_lines();
    my %per;
    for (@lines) {
        $per{$1}++ if /bar_hls: camera "([^"]+)"/;
    }
    measure('error.log: %d lines, %.1f kB written during the soak; per camera: %s',
            scalar @lines, ($M{log_bytes} // 0) / 1024,
            join(' ', map { "$_=" . ($per{$_} // 0) } 'good', map { $_->[0] } @HOSTILE));
    for my $h (@HOSTILE) {
        my ($cam, $mode) = @$h;
        ok($per{$cam}, "$name - $cam: error.log names the camera ($mode)");
        # libav's lines are limited to 20 a second per camera
        my $max = 25 * ($M{secs} + 30);
        ok(($per{$cam} // 0) <= $max, "$name - $cam: at most $max lines ("
           . ($per{$cam} // 0) . ')');
        if ($BOUND{$cam}) {
            my @b = grep { /\[(?:error|warn)\] .*bar_hls: camera "\Q$cam\E": / && $_ =~ $BOUND_RE } @lines;
            ok(scalar @b, "$name - $cam: a log line names the bound it passed")
                or diag("$cam: " . join('', (grep { /camera "\Q$cam\E"/ } @lines)[0 .. 4]));
        }
    }
    my @anon = grep { /\[(?:error|warn|crit|alert)\] .*bar_hls: / && !/bar_hls: camera "[^"]+": / } @lines;
    is(scalar @anon, 0, "$name - every bar_hls error or warning names its camera")
        or diag(@anon[0 .. ($#anon < 9 ? $#anon : 9)]);
    my @good = grep { /camera "good"/ && /\[(?:error|warn)\]/ } @lines;
    is(scalar @good, 0, "$name - good: no error or warning") or diag(@good[0 .. ($#good < 9 ? $#good : 9)]);
}

run_tests();

__DATA__

=== TEST 1: 30 s of hostile cameras: the good one streams on, no worker exits, RSS bounded
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera good rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_GOOD_PORT/stream1 segment=1s;
bar_hls_camera storm rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_STORM_PORT/stream1 segment=1s timeout=3s;
bar_hls_camera flood rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_FLOOD_PORT/stream1 segment=1s timeout=3s;
bar_hls_camera trunc rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_TRUNC_PORT/stream1 segment=1s timeout=3s;
bar_hls_camera samets rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_SAMETS_PORT/stream1 segment=1s timeout=3s;
bar_hls_camera stap rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_STAP_PORT/stream1 segment=1s timeout=3s;
bar_hls_camera giant rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_GIANT_PORT/stream1 segment=1s;
bar_hls_camera junk rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_JUNK_PORT/stream1 segment=1s timeout=3s;
bar_hls_camera tiny rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_TINY_PORT/stream1 segment=1s timeout=3s;
bar_hls_camera chaos rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_CHAOS_PORT/stream1 segment=1s timeout=3s;
bar_hls_camera garbage rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_GARBAGE_PORT/stream1 segment=1s timeout=3s;
bar_hls_camera nosprop rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_NOSPROP_PORT/stream1 segment=1s timeout=3s;
bar_hls_camera startcode rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_STARTCODE_PORT/stream1 segment=1s timeout=3s;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
main::soak();
--- request
GET /live/good/index.m3u8
--- timeout: 10
--- bar_playlist: min=2 target=1
--- bar_check: soak



=== TEST 2: every hostile camera's status makes sense
--- request
GET /live/status
--- timeout: 10
--- response_headers
Content-Type: application/json
--- bar_check: status



=== TEST 3: error.log names the cameras, says which bound they passed
--- request
GET /live/good/index.m3u8
--- timeout: 10
--- bar_check: log
