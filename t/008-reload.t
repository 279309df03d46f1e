# nginx -s reload: the new workers take the cameras over without a second
# RTSP session, and the media sequence goes on from the shared zone.
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

our $Ale = start_camera(env => 'TEST_NGINX_CAM1_PORT', audio => 'aac', gop => 25);
our $Bob = start_camera(env => 'TEST_NGINX_CAM2_PORT', gop => 25);

our (%Before, %Pullers);

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
    my $master = nginx_master_pid();
    Test::More::ok($master && kill('HUP', $master), "SIGHUP sent to the nginx master");
    Test::More::ok(wait_for_log(qr/\[notice\] .*: reconfiguring/, 10), 'nginx reconfigures');
    # the new workers pull again
    Test::More::ok(wait_until(15, 0.1, sub {
        my $p = pullers();
        return @{ $p->{ale} || [] } >= 2 && @{ $p->{bob} || [] } >= 2;
    }), 'the new workers pull both cameras');
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
        is($s->{max}, 1, "$name - $cam: never two RTSP sessions at once ($txt)");
        is($s->{current}, 1, "$name - $cam: one RTSP session now ($txt)");
        is($s->{total}, 2, "$name - $cam: one RTSP session before, one after the reload ($txt)");
    }
}

run_tests();

__DATA__

=== TEST 1: streaming before the reload
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
--- no_error_log
[error]
