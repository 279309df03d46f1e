# Cameras that never stream: a wrong password, a closed port, a server
# that accepts and never answers, an HTTP server, a server that sends
# garbage, an MJPEG camera.  Each is retried with exponential backoff and
# logged once per state (not once per retry), the status says why, the
# playlist is 503, nothing crashes and a good camera streams meanwhile.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use JSON::PP ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

our $Locked = start_camera(env => 'TEST_NGINX_LOCKED_PORT', auth => 'digest',
                           password => 'other-pw-9');
our $Mjpeg = start_camera(env => 'TEST_NGINX_MJPEG_PORT', codec => 'mjpeg');
our $Good = start_camera(env => 'TEST_NGINX_GOOD_PORT', gop => 25);
our $Silent = start_bad_server(mode => 'silent', env => 'TEST_NGINX_SILENT_PORT');
our $Http = start_bad_server(mode => 'http400', env => 'TEST_NGINX_HTTP_PORT');
our $Garbage = start_bad_server(mode => 'garbage', env => 'TEST_NGINX_GARBAGE_PORT');
$ENV{TEST_NGINX_CLOSED_PORT} = closed_port();

# camera => [state in the status, the error line's status text, message]
our %Expect = (
    locked  => ['error',   'authentication failed', qr/401|[Uu]nauthori[sz]ed|authori[sz]ation/],
    closed  => ['backoff', 'network error',         qr/[Cc]onnection refused/],
    silent  => ['backoff', 'timed out',             qr/./],
    http    => ['backoff', 'protocol error',        qr/./],
    garbage => ['backoff', 'protocol error',        qr/./],
    mjpeg   => ['error',   'unsupported stream',    qr/video codec mjpeg is not supported/],
);

our ($T0, $Mark);

# every bad camera was tried again and again, and logged once
sub retry_for_a_while {
    $T0 = time;
    my $ok = BarHls::Test::wait_until(25, 0.5, sub {
        return 0 if time - $T0 < 10;
        # silent needs timeout=2s per attempt: 3 attempts take ~5.5 s
        return bad_server_accepts($main::Silent) >= 3
            && bad_server_accepts($main::Http) >= 4
            && bad_server_accepts($main::Garbage) >= 4
            && (camera_stats($main::Locked)->{total} // 0) >= 4
            && (camera_stats($main::Mjpeg)->{total} // 0) >= 4;
    });
    Test::More::ok($ok, sprintf 'every bad camera was retried several times (%.1fs)', time - $T0)
        or Test::More::diag(sprintf 'accepts: silent %d, http %d, garbage %d; '
                            . 'camera connections: locked %s, mjpeg %s',
                            scalar bad_server_accepts($main::Silent),
                            scalar bad_server_accepts($main::Http),
                            scalar bad_server_accepts($main::Garbage),
                            camera_stats($main::Locked)->{total} // '?',
                            camera_stats($main::Mjpeg)->{total} // '?');
}

sub check_one_line_each {
    my ($block) = @_;
    my $name = $block->name;
    my @lines = error_log_lines();
    for my $cam (sort keys %Expect) {
        my ($state, $text, $msg) = @{ $Expect{$cam} };
        my @err = grep { /\[error\] .*bar_hls: camera "$cam": / } @lines;
        is(scalar @err, 1, "$name - $cam: exactly one [error] line over the retries")
            or diag(@err);
        like($err[0] // '', qr/\[error\] .*bar_hls: camera "$cam": \Q$text\E: .*, retrying in \d+ms$/,
             "$name - $cam: the line says \"$text\"");
        like($err[0] // '', $msg, "$name - $cam: the line says why");
        my @warn = grep { /\[(warn|crit|alert|emerg)\] .*camera "$cam"/ } @lines;
        is(scalar @warn, 0, "$name - $cam: no [warn] or worse line for the retries")
            or diag(@warn);
    }
    my @good = grep { /camera "good"/ && /\[(error|warn)\]/ } @lines;
    is(scalar @good, 0, "$name - good: no error line") or diag(@good);
    # the closed port: libav's own lines, one per attempt, stay at info
    my $refused = grep { /\[info\] .*camera "closed": .*Connection refused/ } @lines;
    ok($refused >= 3, "$name - closed: retried ($refused attempts at [info])");
}

sub check_status {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $st = eval { JSON::PP::decode_json($body) };
    ok($st && $st->{cameras}, "$name - status is JSON") or return;
    for my $cam (sort keys %Expect) {
        my ($state, $text, $msg) = @{ $Expect{$cam} };
        # between two attempts (a retry is "connecting" for a while)
        my $c = wait_status($cam, 8, sub { $_[0]{state} eq $state })
                || $st->{cameras}{$cam} || {};
        is($c->{state}, $state, "$name - $cam: state $state");
        like($c->{last_error} // '', qr/^\Q$text\E: /, "$name - $cam: last_error \"$text: ...\"");
        like($c->{last_error} // '', $msg, "$name - $cam: last_error says why");
        ok(($c->{reconnects} // 0) >= 2, "$name - $cam: reconnects counted ("
           . ($c->{reconnects} // 'none') . ')');
        is($c->{segments}, 0, "$name - $cam: no segment");
    }
    is($st->{cameras}{good}{state}, 'streaming', "$name - good: streaming");
    unlike($body, qr/\Q$PASSWORD\E|other-pw-9/, "$name - no password in the status");
    like($st->{cameras}{locked}{url} // '', qr{^rtsp://\*\*\*\@127\.0\.0\.1:\d+/stream1$},
         "$name - locked: userinfo redacted in the url");
}

sub check_bad_playlists {
    my ($block) = @_;
    my $name = $block->name;
    for my $cam (sort keys %Expect) {
        my $res = http_get("/live/$cam/index.m3u8");
        is($res->{status}, 503, "$name - $cam: playlist 503");
        is($res->{headers}{'retry-after'}, '1', "$name - $cam: Retry-After: 1");
        unlike($res->{content} // '', qr/\Q$PASSWORD\E|other-pw-9|rtsp:/,
               "$name - $cam: the error page names no URL or password");
        is(http_get("/live/$cam/init.mp4")->{status}, 503, "$name - $cam: init.mp4 503");
    }
}

# the attempts of a camera that fails at once are 0.5 s, 1 s, 2 s, 4 s
# apart (+-25 % jitter): measured, with generous bounds
sub check_backoff {
    my ($block) = @_;
    my $name = $block->name;
    for my $srv (['http', $Http, 0], ['garbage', $Garbage, 0], ['silent', $Silent, 2]) {
        my ($cam, $s, $timeout) = @$srv;
        my @t = bad_server_accepts($s);
        my @gap = map { $t[$_] - $t[$_ - 1] } 1 .. $#t;
        measure('%s: %d attempts, %s s apart (timeout=%ss)', $cam, scalar @t,
                join(' ', map { sprintf '%.2f', $_ } @gap), $timeout);
        my @bad;
        for my $k (0 .. ($#gap < 3 ? $#gap : 3)) {
            my $b = 0.5 * 2 ** $k;
            my ($lo, $hi) = ($timeout + 0.75 * $b - 0.05, $timeout + 1.25 * $b + 3);
            push @bad, sprintf('attempt %d after %.2fs, not in [%.2f, %.2f]', $k + 2,
                               $gap[$k], $lo, $hi)
                if $gap[$k] < $lo || $gap[$k] > $hi;
        }
        ok(!@bad && @gap >= 2, "$name - $cam: exponential backoff from 0.5 s, with jitter")
            or diag(join "\n", @bad);
    }
    # the cameras in state "error" (wrong password, MJPEG): their own log
    for my $c (['locked', $Locked], ['mjpeg', $Mjpeg]) {
        my ($cam, $fc) = @$c;
        my @t = map { /^(\d\d):(\d\d):(\d\d\.\d+) fake-camera: client \d+ connected/ ? $1 * 3600 + $2 * 60 + $3 : () }
                split /\n/, BarHls::Test::slurp($fc->{log}) // '';
        splice @t, 0, $fc->{probes} // 0;
        my @gap = map { $t[$_] - $t[$_ - 1] } 1 .. $#t;
        measure('%s (state error): %d attempts, %s s apart', $cam, scalar @t,
                join(' ', map { sprintf '%.2f', $_ } @gap));
    }
}

run_tests();

__DATA__

=== TEST 1: bad cameras retried for a while: one error line each
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera locked rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_LOCKED_PORT/stream1 timeout=2s;
bar_hls_camera closed rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_CLOSED_PORT/stream1 timeout=2s;
bar_hls_camera silent rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_SILENT_PORT/stream1 timeout=2s;
bar_hls_camera http rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_HTTP_PORT/stream1 timeout=2s;
bar_hls_camera garbage rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_GARBAGE_PORT/stream1 timeout=2s;
bar_hls_camera mjpeg rtsp://127.0.0.1:$TEST_NGINX_MJPEG_PORT/stream1 timeout=2s;
bar_hls_camera good rtsp://127.0.0.1:$TEST_NGINX_GOOD_PORT/stream1 segment=1s;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
main::retry_for_a_while();
--- request
GET /live/good/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: one_line_each backoff
--- error_log
bar_hls: camera "good": streaming 640x360



=== TEST 2: the status tells each camera's state and last error
--- request
GET /live/status
--- response_headers
Content-Type: application/json
--- bar_check: status



=== TEST 3: their playlists are 503, and say nothing secret
--- request
GET /live/good/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: bad_playlists
