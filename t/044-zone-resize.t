# bar_hls_zone's size changed by a reload.  The README: the zone (and the
# cameras' sequence numbers) survive a reload "when its size is
# unchanged"; a new size is a new, empty zone.  Asserted as it is today:
# the new workers start from nothing (what was published before is 404,
# the playlist lists only new segments, the status shows the new size),
# the camera streams again.  The RTSP sessions at the camera during the
# handover are measured; that a resize never yields two at once is
# expected by issue 10 (marked TODO until then).
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use File::Spec ();
use JSON::PP ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

our $Cam = start_camera(env => 'TEST_NGINX_CAM_PORT', gop => 25);
our ($Seg, $Max, $Took, $Mark);

our $TODO;

sub resize {
    Test::More::ok(BarHls::Test::wait_for_playlist('/live/ale/index.m3u8', 2, 15), 'ale streams');
    $Seg = remember_segment('/live/ale');
    my $conf = File::Spec->catfile($ENV{TEST_NGINX_SERVER_ROOT}, 'conf', 'nginx.conf');
    my $text = BarHls::Test::slurp($conf);
    my $n = $text =~ s/^(\s*)bar_hls_zone 64m;$/${1}bar_hls_zone 32m;/m;
    Test::More::ok($n, 'nginx.conf: bar_hls_zone 64m -> 32m');
    open my $out, '>', "$conf.new" or die "$conf.new: $!";
    print $out $text;
    close $out;
    rename "$conf.new", $conf or die "$conf: $!";
    $Mark = error_log_mark();
    my $t0 = time;
    Test::More::ok(kill('HUP', nginx_master_pid()), 'SIGHUP sent to the master');
    $Max = max_sessions([$Cam->{port}], 20, sub {
        $Took //= time - $t0 if grep { /camera "ale": streaming/ } log_lines_since($Mark);
        return defined $Took;
    });
    measure('zone 64m -> 32m by a reload: streaming again %s s after SIGHUP; most RTSP connections at once '
            . '(camera side/nginx side): %d/%d', defined $Took ? sprintf('%.2f', $Took) : 'never',
            $Max->{ $Cam->{port} }{camera}, $Max->{ $Cam->{port} }{client});
    BarHls::Test::wait_for_playlist('/live/ale/index.m3u8', 2, 15);
}

sub check_resized {
    my ($block, $body) = @_;
    my $name = $block->name;
    ok(defined $Took, "$name - the camera streams again after the resize");
    ok($Seg->{status} == 200, "$name - a segment was served before: $Seg->{uri}");
    is(http_get($Seg->{uri})->{status}, 404, "$name - not after: a new zone, empty");
    my @msns = playlist_msns($body);
    ok(@msns && !(grep { $_ <= $Seg->{msn} } @msns),
       "$name - only segments made after the resize are listed (@msns > $Seg->{msn})");
    my $st = status_json() || {};
    is($st->{zone}{size}, 32 * 1048576, "$name - the status shows the 32m zone");
    is(camera_stats($Cam)->{current}, 1, "$name - one RTSP session at the camera now");
    TODO: {
        local $TODO = 'issue 10: a resize must not overlap two RTSP sessions';
        is($Max->{ $Cam->{port} }{camera}, 1, "$name - never two RTSP connections at once, camera side");
        is($Max->{ $Cam->{port} }{client}, 1, "$name - never two RTSP connections at once, nginx side");
    }
}

run_tests();

__DATA__

=== TEST 1: streaming in a 64m zone
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM_PORT/stream1 segment=1s;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
--- request
GET /live/status
--- response_body_like: "zone": ?\{"size": ?67108864,
--- no_error_log
[error]



=== TEST 2: the zone resized to 32m by a reload: a new, empty zone
--- init
main::resize();
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: resized
