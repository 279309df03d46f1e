# Two workers: each camera is pulled by exactly one of them (one RTSP
# session per camera), and every worker serves the same bytes from the
# shared zone.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

my $Ale = start_camera(env => 'TEST_NGINX_CAM1_PORT', audio => 'aac',
                       auth => 'digest', password => $PASSWORD);
my $Bob = start_camera(env => 'TEST_NGINX_CAM2_PORT', audio => 'none');

# A second server whose listen socket is per worker (reuseport): the kernel
# spreads its connections over both workers.
$ENV{TEST_NGINX_BAR_PORT2} = free_port();

# camera i is pulled by worker i % 2: two different processes, once each
sub check_owners {
    my ($block) = @_;
    my $name = $block->name;
    my %pullers;
    for (error_log_lines()) {
        push @{ $pullers{$2} }, $1
            if /\[info\] (\d+)#\d+: bar_hls: camera "(\w+)": pulling /;
    }
    is(scalar @{ $pullers{ale} || [] }, 1, "$name - one process pulls ale");
    is(scalar @{ $pullers{bob} || [] }, 1, "$name - one process pulls bob");
    isnt($pullers{ale}[0] // 0, $pullers{bob}[0] // 0,
         "$name - ale and bob are pulled by different workers");
}

# 20 requests for one segment on the reuseport server: all 200 with the
# same bytes as this block's response... served by both workers.
sub check_same_bytes {
    my ($block, $body) = @_;
    my $name = $block->name;
    my ($uri) = $body =~ /^(seg-\d+\.m4s)$/m;
    my $path = "/live/ale/$uri";
    my $want = md5_hex(http_get($path)->{content});
    my (%status, %md5);
    for (1 .. 20) {
        my $res = http_get($path, port => $ENV{TEST_NGINX_BAR_PORT2});
        $status{$res->{status}}++;
        $md5{ md5_hex($res->{content}) }++;
    }
    is(join(',', keys %status), '200', "$name - 20 x $uri: all 200");
    is(join(',', keys %md5), $want, "$name - 20 x $uri: identical bytes");

    my $log = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/pids.log";
    my %pids;
    my $n = 0;
    my $lines = wait_until(3, 0.1, sub {
        open my $fh, '<', $log or return;
        my @l = grep { /^\d+ 200 \d+ \Q$path\E$/ } <$fh>;
        return @l >= 20 ? \@l : undef;
    }) || [];
    $pids{(split ' ', $_)[0]}++ for @$lines;
    is(scalar @$lines, 20, "$name - 20 requests logged");
    ok(keys %pids >= 2, "$name - served by 2 worker processes ("
                        . join(', ', map "$_: $pids{$_}", sort keys %pids) . ')');
    my $master = nginx_master_pid() // 0;
    ok(!$pids{$master}, "$name - not by the master process");
}

sub check_one_session {
    my ($block) = @_;
    my $name = $block->name;
    for ([ale => $Ale], [bob => $Bob]) {
        my ($cam, $fc) = @$_;
        my $s = camera_stats($fc);
        my $txt = join ' ', map "$_=" . ($s->{$_} // '?'), qw(current max total);
        is($s->{max}, 1, "$name - $cam: never two RTSP sessions at once ($txt)");
        is($s->{current}, 1, "$name - $cam: one RTSP session now ($txt)");
        is($s->{total}, 1, "$name - $cam: one RTSP connection ever ($txt)");
    }
}

run_tests();

__DATA__

=== TEST 1: both cameras list 3 segments within 15 s, one puller each
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://admin:s3cr3t-pw@127.0.0.1:$TEST_NGINX_CAM1_PORT/stream1;
bar_hls_camera bob rtsp://127.0.0.1:$TEST_NGINX_CAM2_PORT/stream1;

log_format pids '$pid $status $bytes_sent $request_uri';

server {
    listen 127.0.0.1:$TEST_NGINX_BAR_PORT2 reuseport;
    access_log $TEST_NGINX_SERVER_ROOT/logs/pids.log pids;

    location /live/ {
        bar_hls;
    }
}
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 3, 15);
BarHls::Test::wait_playlist_ok('/live/bob/index.m3u8', 3, 15);
--- request
GET /live/bob/index.m3u8
--- bar_playlist: min=3 target=2
--- bar_check: owners
--- error_log eval
[qr/bar_hls: camera "ale": streaming 640x360 avc1\.\w+,mp4a\.40\.2$/,
 qr/bar_hls: camera "bob": streaming 640x360 avc1\.\w+$/]
--- no_error_log
[error]



=== TEST 2: both workers serve identical bytes for the same segment
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=3 target=2
--- bar_check: same_bytes
--- no_error_log
[error]



=== TEST 3: the fake cameras saw exactly one RTSP session each
--- request
GET /live/ale/index.m3u8
--- bar_check: one_session
--- no_error_log
[error]
