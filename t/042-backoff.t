# The retry schedule the README promises: exponential backoff with
# jitter, 0.5 s doubling to 30 s, reset after 30 s of streaming.  Attempt
# times are measured where the module connects (t/tools/bad-server logs
# every accept), three cameras at once, so the file takes about two
# minutes, which is what watching a 30 s cap twice costs:
#
#   dead   always a server that answers 400: the gaps between attempts
#          grow 0.5, 1, 2, ... 16 s, then stay at 30 s (+-25 % jitter);
#          an uncapped 8th gap would be 64 s.
#   flap   400 for five attempts (the backoff is at 8 s, then 16 s), then
#          a real camera for 32 s of streaming, then 400 again: the first
#          retry comes after about 0.5 s, not 16 s: the backoff was reset.
#   short  the same with 10 s of streaming: no reset, the retry waits
#          about 16 s (12 to 20 s).
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

our %Port = map { $_ => free_port() } qw(dead flap short);
$ENV{"TEST_NGINX_\U$_\E_PORT"} = $Port{$_} for keys %Port;
our %Srv = map { $_ => start_bad_server(port => $Port{$_}, mode => 'http400') } keys %Port;
our (%Gaps, %Retry, %Streamed);

sub gaps {
    my @t = bad_server_accepts($_[0]);
    return map { $t[$_] - $t[$_ - 1] } 1 .. $#t;
}

# flap and short: five failed attempts, a camera for $hold s of
# streaming, then failures again: the time from the camera's end to
# the next attempt
sub cycle_step {
    my ($cam, $hold, $st) = @_;
    if ($st->{phase} eq 'fail' && bad_server_accepts($Srv{$cam}) >= 5) {
        $st->{before} = [gaps($Srv{$cam})];
        stop_bad_server($Srv{$cam});
        $st->{mark} = error_log_mark();
        $st->{camera} = start_camera(port => $Port{$cam}, gop => 25);
        $st->{phase} = 'up';
    } elsif ($st->{phase} eq 'up') {
        $st->{t_stream} //= time
            if grep { /bar_hls: camera "$cam": streaming/ } BarHls::Fault::log_lines_since($st->{mark});
        if (defined $st->{t_stream} && time - $st->{t_stream} >= $hold) {
            $Streamed{$cam} = time - $st->{t_stream};
            stop_camera($st->{camera});
            $st->{t_down} = time;
            $Srv{$cam} = start_bad_server(port => $Port{$cam}, mode => 'http400');
            $st->{phase} = 'down';
        }
    } elsif ($st->{phase} eq 'down') {
        my ($first) = bad_server_accepts($Srv{$cam});
        if (defined $first) {
            $Retry{$cam} = $first - $st->{t_down};
            $st->{phase} = 'done';
        }
    }
}

sub watch {
    my %st = (flap => { phase => 'fail' }, short => { phase => 'fail' });
    my $t0 = time;
    BarHls::Test::wait_until(150, 0.05, sub {
        cycle_step('flap', 32, $st{flap});
        cycle_step('short', 10, $st{short});
        return bad_server_accepts($Srv{dead}) >= 9
               && $st{flap}{phase} eq 'done' && $st{short}{phase} eq 'done';
    });
    $Gaps{dead} = [gaps($Srv{dead})];
    $Gaps{$_} = $st{$_}{before} for qw(flap short);
    measure('dead: %d attempts in %.1f s, gaps %s s', scalar @{ $Gaps{dead} } + 1, time - $t0,
            join(' ', map { sprintf '%.2f', $_ } @{ $Gaps{dead} }));
    for my $cam (qw(flap short)) {
        measure('%s: gaps before streaming %s s; streamed %s s; first retry %s s after the camera went',
                $cam, join(' ', map { sprintf '%.2f', $_ } @{ $Gaps{$cam} || [] }),
                map { defined $_ ? sprintf('%.1f', $_) : 'never' } $Streamed{$cam}, $Retry{$cam});
    }
}

# gap k (from 0) of a fresh schedule: min(0.5 * 2^k, 30) +-25 %, plus
# up to 3 s for a loaded machine to connect
sub schedule_ok {
    my ($name, $cam, $gaps, $n) = @_;
    ok(@$gaps >= $n, "$name - $cam: $n gaps between attempts measured (" . scalar(@$gaps) . ')') or return;
    my @bad;
    for my $k (0 .. $n - 1) {
        my $b = 0.5 * 2 ** $k;
        $b = 30 if $b > 30;
        push @bad, sprintf('gap %d: %.2f s, not in [%.2f, %.2f]', $k + 1, $gaps->[$k], 0.75 * $b - 0.05,
                           1.25 * $b + 3)
            if $gaps->[$k] < 0.75 * $b - 0.05 || $gaps->[$k] > 1.25 * $b + 3;
    }
    ok(!@bad, "$name - $cam: 0.5 s doubling" . ($n > 6 ? ', capped at 30 s' : '') . ' (+-25 %)')
        or diag(join "\n", @bad);
}

sub check_cap {
    my ($block) = @_;
    my $name = $block->name;
    schedule_ok($name, 'dead', $Gaps{dead}, 8);
    # the 8th gap: 64 s (48 s at least) without the cap
    ok(($Gaps{dead}[7] // 99) < 48, sprintf "$name - dead: the 8th gap is capped (%.2f s, uncapped >= 48 s)",
       $Gaps{dead}[7] // -1);
}

sub check_reset {
    my ($block) = @_;
    my $name = $block->name;
    schedule_ok($name, $_, $Gaps{$_} || [], 4) for qw(flap short);
    ok(($Streamed{flap} // 0) >= 30, "$name - flap streamed 30 s or more");
    # reset: 0.5 s (+-25 %), or the 1 s after it if the first attempt came
    # before the 400 server listened; not reset: 16 s +-25 %
    ok(defined $Retry{flap} && $Retry{flap} < 6,
       sprintf "$name - flap: retried %.2f s after 30 s of streaming ended (reset; not reset: >= 12 s)",
       $Retry{flap} // -1);
    ok(defined $Retry{short} && $Retry{short} >= 12 - 0.05 && $Retry{short} < 20 + 3,
       sprintf "$name - short: retried %.2f s after 10 s of streaming ended (no reset: 12 to 20 s)",
       $Retry{short} // -1);
}

run_tests();

__DATA__

=== TEST 1: three cameras failing, one capped, two streaming in between
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera dead rtsp://127.0.0.1:$TEST_NGINX_DEAD_PORT/stream1 segment=1s;
bar_hls_camera flap rtsp://127.0.0.1:$TEST_NGINX_FLAP_PORT/stream1 segment=1s;
bar_hls_camera short rtsp://127.0.0.1:$TEST_NGINX_SHORT_PORT/stream1 segment=1s;
--- config
location /live/ {
    bar_hls;
}
--- init
main::watch();
--- request
GET /live/dead/index.m3u8
--- error_code: 503
--- bar_check: cap



=== TEST 2: reset after 30 s of streaming, not after 10 s
--- request
GET /live/dead/index.m3u8
--- error_code: 503
--- bar_check: reset
