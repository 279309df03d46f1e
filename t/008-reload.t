# nginx -s reload: the new workers take the cameras over without a second
# RTSP session, and the media sequence goes on from the shared zone.
#
# The configuration carries a 200000-entry map, so that the master takes
# about half a second to reconfigure (as large real configurations do):
# the old workers keep streaming, and heartbeating, all that time.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
log_level('info');
no_shuffle();
add_block_preprocessor(\&default_log_checks);
add_response_body_check(\&check_body);

our $Ale = start_camera(env => 'TEST_NGINX_CAM1_PORT', audio => 'aac', gop => 25);
our $Bob = start_camera(env => 'TEST_NGINX_CAM2_PORT', gop => 25);

our (%Before, %Kept, $MaxConn);

sub pullers {
    my %p;
    for (error_log_lines()) {
        push @{ $p{$2} }, $1 if /\[info\] (\d+)#\d+: bar_hls: camera "(\w+)": pulling /;
    }
    return \%p;
}

sub reload_and_wait {
    for my $cam (qw(ale bob)) {
        my $text = BarHls::Test::wait_for_playlist("/live/$cam/index.m3u8", 2, 15);
        Test::More::ok($text, "$cam lists 2 segments before the reload");
        $Before{$cam} = parse_playlist($text);
    }
    my %seg = map { $_ => remember_segment("/live/$_") } qw(ale bob);
    my $master = nginx_master_pid();
    Test::More::ok($master && kill('HUP', $master), "SIGHUP sent to the nginx master");
    # count the cameras' connections through the handover, until the new
    # workers stream both cameras (and a second more)
    my $streaming = 0;
    $MaxConn = max_established([$Ale->{port}, $Bob->{port}], 15, sub {
        $streaming = grep { /bar_hls: camera "(ale|bob)": streaming / } error_log_lines();
        return $streaming >= 4;
    });
    # the new workers serve what the old ones published: the zone survived
    same_segment_ok("after the reload - $_", $seg{$_}) for qw(ale bob);
    Test::More::ok(wait_for_log(qr/\[notice\] .*: reconfiguring/, 1), 'nginx reconfigured');
    Test::More::is($streaming, 4, 'both cameras streamed again after the reload');
    for my $cam (qw(ale bob)) {
        my $last = $Before{$cam}{segments}[-1]{msn};
        BarHls::Test::wait_playlist_ok("/live/$cam/index.m3u8", 2, 20, sub {
            (grep { $_ > $last + 2 } playlist_msns($_[0])) >= 2 });
    }
}

sub check_after_reload {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $p = pullers();
    for my $cam (qw(ale bob)) {
        my @pids = @{ $p->{$cam} || [] };
        is(scalar @pids, 2, "$name - $cam: pulled once before and once after the reload");
        isnt($pids[0] // 0, $pids[1] // 0, "$name - $cam: by a new worker after the reload");

        my $old = $Before{$cam};
        my $res = http_get("/live/$cam/index.m3u8");
        my $new = parse_playlist($res->{content});
        check_playlist("$name - $cam", $res->{content}, min => 2, target => 1);
        my $last = $old->{segments}[-1]{msn};
        ok($new && $new->{sequence} >= $old->{sequence},
           "$name - $cam: the media sequence went on ($old->{sequence} -> "
           . ($new ? $new->{sequence} : '?') . ')');
        # the segments of before the reload that are still listed are the same
        my %was = map { $_->{msn} => $_ } @{ $old->{segments} };
        my @changed = grep { $was{$_->{msn}} && $was{$_->{msn}}{pdt_text} ne $_->{pdt_text} }
                      @{ $new->{segments} };
        ok(!@changed, "$name - $cam: segments from before the reload kept their PDT");
        my @after = grep { $_->{msn} > $last } @{ $new->{segments} };
        ok(@after >= 2, "$name - $cam: new segments after seg-$last.m4s");
        is(http_get("/live/$cam/$after[-1]{uri}")->{status}, 200,
           "$name - $cam: the newest segment is served") if @after;
    }
    for ([ale => $Ale], [bob => $Bob]) {
        my ($cam, $fc) = @$_;
        my $s = camera_stats($fc);
        my $txt = join ' ', map "$_=" . ($s->{$_} // '?'), qw(current max total);
        # (the camera's own "max" may count the new connection before it
        # noticed the old one closed: the kernel's view decides)
        is($MaxConn->{$fc->{port}}, 1,
           "$name - $cam: never two connections at once during the reload (camera: $txt)")
            or diag("error.log:\n", grep({ /bar_hls|exit|reconfiguring|shutting/ } error_log_lines()),
                    "camera log:\n", BarHls::Test::slurp($fc->{log}) // '');
        is($s->{current}, 1, "$name - $cam: one RTSP session now ($txt)");
        is($s->{total}, 2, "$name - $cam: one RTSP session before, one after the reload ($txt)");
    }
}

run_tests();

__DATA__

=== TEST 1: streaming before the reload
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- user_files eval
[['big-map.conf', "map \$uri \$bar_hls_big {\n"
                  . CORE::join('', map { "    /k$_ $_;\n" } 1 .. 200000) . "}\n"]]
--- http_config
map_hash_max_size 524288;
map_hash_bucket_size 128;
include $TEST_NGINX_SERVER_ROOT/html/big-map.conf;

bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_CAM1_PORT/stream1 segment=1s;
bar_hls_camera bob rtsp://127.0.0.1:$TEST_NGINX_CAM2_PORT/stream1 segment=1s;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 2, 15);
BarHls::Test::wait_playlist_ok('/live/bob/index.m3u8', 2, 15);
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- no_error_log
[error]



=== TEST 2: after a reload
--- init
main::reload_and_wait();
--- request
GET /live/bob/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: after_reload
--- no_error_log eval
[qr/\[error\] .*bar_hls: camera "\w+": (end of stream|network error|timed out|protocol error|authentication failed|unsupported)/]
