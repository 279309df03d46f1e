# A camera that goes silent (SIGSTOP: its TCP connection stays open, no
# byte comes) while nginx reloads or stops: the pull thread is blocked in
# a libavformat read, and only the interrupt callback can end it.  With
# timeout=30s the read timeout cannot be what ends it: a reload's old
# workers, and a stopping nginx, must be gone within a couple of seconds
# (measured; bounded at 10 s, a third of the timeout, to stop a hang).
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use File::Path ();
use File::Temp ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

our $Cam = start_camera(env => 'TEST_NGINX_CAM_PORT', gop => 25);
our ($Reload, $Stops);

# the camera stops sending: the module's read is blocked.  1.5 s for
# what was in flight, then proof: the playlist stays the same for 1 s
sub silence {
    my ($cam, $port) = @_;
    pause_camera($Cam);
    sleep 1.5;
    my $a = http_get("/live/$cam/index.m3u8", port => $port)->{content};
    sleep 1;
    my $b = http_get("/live/$cam/index.m3u8", port => $port)->{content};
    Test::More::ok(defined $a && $a =~ /^#EXTM3U/ && $a eq $b, "$cam: no new media for 1 s: the camera is silent");
}

sub reload_silent {
    my $text = BarHls::Test::wait_for_playlist('/live/ale/index.m3u8', 2, 15);
    Test::More::ok($text, 'ale streams');
    my $seg = remember_segment('/live/ale');
    silence('ale');
    my @old = worker_pids();
    my $t0 = time;
    Test::More::ok(kill('HUP', nginx_master_pid()), 'SIGHUP sent to the master');
    my $gone = BarHls::Test::wait_until(10, 0.02, sub { !grep { process_alive($_) } @old });
    $Reload = { took => time - $t0, gone => $gone, old => \@old, seg => $seg };
    measure('reload with a silent camera: the old workers exited %.2f s after SIGHUP', $Reload->{took});
}

sub check_reloaded {
    my ($block) = @_;
    my $name = $block->name;
    ok($Reload->{gone}, sprintf "$name - the old workers (@{ $Reload->{old} }) exited within 10 s (%.2f s)",
       $Reload->{took});
    my @now = worker_pids();
    is(scalar @now, 2, "$name - two new workers");
    # the zone survived; the playlist lists what the camera sent before
    same_segment_ok($name, $Reload->{seg});
    resume_camera($Cam);
}

# our own nginx (the harness's stays up): streaming, then the camera
# goes silent, then SIGQUIT (graceful) or SIGTERM (fast)
sub own_nginx_stop {
    my ($sig) = @_;
    my $dir = File::Temp::tempdir('bar-hls-043-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{BAR_HLS_TEST_KEEP});
    File::Path::make_path("$dir/logs", "$dir/conf");
    my $port = free_port();
    my $user = $> == 0 ? 'user root;' : '';
    open my $fh, '>', "$dir/conf/nginx.conf" or die "$dir: $!";
    print $fh <<"EOC";
load_module ${\ module_path()};
$user
worker_processes 2;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    bar_hls_zone 16m;
    bar_hls_camera own rtsp://127.0.0.1:$Cam->{port}/stream1 segment=1s timeout=30s;
    server {
        listen 127.0.0.1:$port;
        location /live/ { bar_hls; }
    }
}
EOC
    close $fh;
    my %r = (sig => $sig);
    system($ENV{TEST_NGINX_BINARY} || 'nginx', '-p', "$dir/", '-c', "$dir/conf/nginx.conf") == 0
        or return { %r, error => 'nginx did not start' };
    my $pid = BarHls::Test::wait_until(5, 0.05, sub {
        my $p = BarHls::Test::slurp("$dir/logs/nginx.pid");
        return $p && $p =~ /^(\d+)/ ? $1 : undef;
    }) or return { %r, error => 'no pid file' };
    my $pl = BarHls::Test::wait_until(15, 0.2, sub {
        my $res = http_get('/live/own/index.m3u8', port => $port);
        return $res->{status} == 200 && $res->{content} =~ /^seg-/m;
    });
    $r{streamed} = $pl ? 1 : 0;
    silence('own', $port);
    my $t0 = time;
    kill $sig, $pid;
    $r{gone} = BarHls::Test::wait_until(10, 0.02, sub { !process_alive($pid) });
    $r{took} = time - $t0;
    if (!$r{gone}) {
        kill 'KILL', $pid;      # ours, by PID; its workers follow
    }
    resume_camera($Cam);
    $r{log} = BarHls::Test::slurp("$dir/logs/error.log") // '';
    measure('nginx stopped by SIG%s with a silent camera: gone after %.2f s', $sig, $r{took});
    return \%r;
}

sub stops {
    $Stops = [map { own_nginx_stop($_) } qw(QUIT TERM)];
}

sub check_stops {
    my ($block) = @_;
    my $name = $block->name;
    for my $r (@$Stops) {
        ok(!$r->{error}, "$name - SIG$r->{sig}: our nginx started") or next;
        ok($r->{streamed}, "$name - SIG$r->{sig}: it streamed before the camera went silent");
        ok($r->{gone}, sprintf "$name - SIG$r->{sig}: nginx exited within 10 s (%.2f s)", $r->{took});
        my @bad = grep { /\[(alert|crit|emerg)\]/ } split /^/, $r->{log};
        ok(!@bad, "$name - SIG$r->{sig}: no alert in its error.log") or diag(@bad);
    }
}

run_tests();

__DATA__

=== TEST 1: streaming
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s timeout=30s;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- no_error_log
[error]



=== TEST 2: reload while the camera is silent: the old workers go at once
--- init
main::reload_silent();
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: reloaded



=== TEST 3: stop (graceful and fast) while the camera is silent
--- init
main::stops();
--- request
GET /live/ale/index.m3u8
--- bar_check: stops
