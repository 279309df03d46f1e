# Cameras added, removed and changed by a reload (master process, two
# workers).  A removed camera is 404, its RTSP session ends and its media
# is freed (a notice says so); an added camera streams; a camera whose URL
# now leads to a camera with another resolution gets a new init segment
# after a discontinuity, the old one still served while listed; an
# unchanged camera goes on; a camera added back goes on with higher
# sequence numbers than it ever had (URLs never name other bytes).
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

our %Fc = (
    A => start_camera(env => 'TEST_NGINX_A_PORT', gop => 25),
    B => start_camera(env => 'TEST_NGINX_B_PORT', gop => 25),
    C => start_camera(env => 'TEST_NGINX_C_PORT', gop => 25),
    D => start_camera(env => 'TEST_NGINX_D_PORT', gop => 25),
    E => start_camera(env => 'TEST_NGINX_E_PORT', gop => 25, size => '320x180'),
);

our (%Before, %Reload, $MaxConn);

sub cam_line {
    my ($name, $fc, $extra) = @_;
    return "bar_hls_camera $name rtsp://127.0.0.1:$Fc{$fc}{port}/stream1 segment=1s"
           . ($extra ? " $extra" : '') . ';';
}

# replaces the bar_hls_camera lines of nginx.conf and reloads
sub reload_with {
    my ($label, @lines) = @_;
    my $conf = File::Spec->catfile($ENV{TEST_NGINX_SERVER_ROOT}, 'conf', 'nginx.conf');
    open my $in, '<', $conf or die "$conf: $!";
    my $text = do { local $/; <$in> };
    close $in;
    my $n = $text =~ s/^[ \t]*bar_hls_camera [^\n]*\n//mg;
    Test::More::ok($n, "$label: the old camera lines removed from nginx.conf");
    $text =~ s/^([ \t]*bar_hls_zone [^\n]*\n)/$1 . join('', map { "$_\n" } @lines)/me
        or die "no bar_hls_zone line in $conf";
    open my $out, '>', "$conf.new" or die "$conf.new: $!";
    print $out $text;
    close $out;
    rename "$conf.new", $conf or die "$conf: $!";
    my $mark = error_log_mark();
    my $master = nginx_master_pid();
    my $t0 = time;
    Test::More::ok($master && kill('HUP', $master), "$label: SIGHUP sent to the master");
    Test::More::ok(wait_for_log(qr/\[notice\] .*: reconfiguring/, 5, $mark), "$label: nginx reconfigured");
    $Reload{$label} = { t0 => $t0, mark => $mark };
}

sub before_reload {
    for my $cam (qw(ale bob cid)) {
        my $text = BarHls::Test::wait_for_playlist("/live/$cam/index.m3u8", 2, 15);
        my $pl = parse_playlist($text);
        Test::More::ok($pl, "$cam lists 2 segments before the reload");
        ($pl->{part}) = ($text // '') =~ /^#EXT-X-PART:.*URI="(part-\d+\.m4s)"/m if $pl;
        $Before{$cam} = $pl;
        $Before{"$cam-map"} = $pl->{segments}[-1]{map} if $pl;
    }
    my %seg = map { $_ => remember_segment("/live/$_") } qw(ale cid);
    reload_with('change', cam_line(ale => 'A'), cam_line(cid => 'E'), cam_line(dan => 'D'));
    my $r = $Reload{change};
    my $t0 = $r->{t0};
    # count the connections until dan streams and cid streams 320x180
    $MaxConn = max_sessions([map { $Fc{$_}{port} } qw(A B C D E)], 20, sub {
        $r->{t_bob_gone} //= time - $t0 if (camera_stats($Fc{B})->{current} // 1) == 0;
        my @l = log_lines_since($r->{mark});
        return (grep { /camera "dan": streaming/ } @l) && (grep { /camera "cid": streaming 320x180/ } @l)
               && (grep { /camera "ale": streaming/ } @l);
    });
    # the new workers serve what the old ones published: the zone
    # survived, for the unchanged camera and for the changed one
    same_segment_ok("after the reload - $_", $seg{$_}) for qw(ale cid);
    BarHls::Test::wait_until(20, 0.05, sub {
        $r->{t_bob_gone} //= time - $t0 if (camera_stats($Fc{B})->{current} // 1) == 0;
        $r->{t_freed} //= time - $t0
            if grep { /\[notice\] .*bar_hls: camera "bob" is no longer configured, its media is freed/ }
                    log_lines_since($r->{mark});
        return defined $r->{t_bob_gone} && defined $r->{t_freed};
    });
    Test::More::ok(defined $r->{t_freed}, 'the notice about bob came');
    Test::More::ok(defined $r->{t_bob_gone}, "bob's RTSP session ended");
    measure('removed camera: its RTSP session ended %s s after SIGHUP, "is no longer configured" notice %s s after',
            map { defined $_ ? sprintf('%.1f', $_) : 'never' } $r->{t_bob_gone}, $r->{t_freed});
    # cid: old and new segments listed
    my $last = $Before{cid}{segments}[-1]{msn};
    BarHls::Test::wait_for_playlist('/live/cid/index.m3u8', 2, 15, sub {
        (grep { $_->{msn} > $last + 1 && $_->{discontinuity} } @{ parse_playlist($_[0])->{segments} })
        && (grep { $_ > $last + 2 } playlist_msns($_[0])) });
}

sub check_removed {
    my ($block) = @_;
    my $name = $block->name;
    my $old = $Before{bob};
    for my $path ('index.m3u8', 'init.mp4', $old->{segments}[-1]{map}, $old->{segments}[-1]{uri},
                  ($old->{part} // 'part-1.m4s'), 'index.m3u8?_HLS_msn=1&_HLS_part=0') {
        my $res = http_get("/live/bob/$path");
        is($res->{status}, 404, "$name - bob/$path: 404");
    }
    is(camera_stats($Fc{B})->{current}, 0, "$name - camera B: its client disconnected");
    my $st = status_json() || {};
    is_deeply([sort keys %{ $st->{cameras} || {} }], [qw(ale cid dan)],
              "$name - the status lists ale, cid and dan");
}

sub check_added {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $c = camera_status('dan') || {};
    is($c->{state}, 'streaming', "$name - dan: streaming");
    is(camera_stats($Fc{D})->{current}, 1, "$name - camera D: one RTSP session");
}

sub check_changed {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_playlist($body);
    my $old_map = $Before{'cid-map'};
    my $last = $Before{cid}{segments}[-1]{msn};
    my ($disc) = grep { $_->{discontinuity} && $_->{msn} > $last } @{ $pl->{segments} };
    ok($disc, "$name - EXT-X-DISCONTINUITY before the new camera's first segment") or return diag($body);
    my @old = grep { $_->{msn} < $disc->{msn} } @{ $pl->{segments} };
    ok(@old, "$name - segments of the old camera still listed") or return diag($body);
    is($old[-1]{map}, $old_map, "$name - they keep $old_map");
    isnt($disc->{map}, $old_map, "$name - the new ones have another init ($disc->{map})");
    like($body, qr/#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI="\Q$disc->{map}\E"\n/,
         "$name - EXT-X-MAP right after the discontinuity");
    ok($pl->{sequence} >= $Before{cid}{sequence}, "$name - the sequence went on");
    is(http_get("/live/cid/$old_map")->{status}, 200, "$name - the old init is still served");
    is(http_get("/live/cid/$disc->{map}")->{status}, 200, "$name - the new init is served");
    my $r = probe_segment('/live/cid', $disc->{map}, $pl->{segments}[-1]{uri});
    my ($v) = grep { $_->{codec_type} eq 'video' } @{ $r->{streams} };
    is(($v->{width} // 0) . 'x' . ($v->{height} // 0), '320x180', "$name - the new segments are 320x180");
    my $c = camera_status('cid') || {};
    is("$c->{width}x$c->{height}", '320x180', "$name - the status says 320x180");
    like($c->{url}, qr/:$Fc{E}{port}\//, "$name - the status has the new URL");
    is(camera_stats($Fc{C})->{current}, 0, "$name - camera C: its client disconnected");
    is(camera_stats($Fc{E})->{current}, 1, "$name - camera E: one RTSP session");
}

sub check_unchanged {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_playlist($body);
    ok($pl->{sequence} >= $Before{ale}{sequence}, "$name - ale: the sequence went on");
    my %was = map { $_->{msn} => $_ } @{ $Before{ale}{segments} };
    my @changed = grep { $was{$_->{msn}} && $was{$_->{msn}}{pdt_text} ne $_->{pdt_text} } @{ $pl->{segments} };
    ok(!@changed, "$name - ale: segments from before the reload unchanged");
    for my $fc (qw(A B C D E)) {
        my $m = $MaxConn->{ $Fc{$fc}{port} };
        ok($m->{camera} <= 1 && $m->{client} <= 1,
           "$name - camera $fc: never two RTSP connections at once (camera side $m->{camera}, nginx side $m->{client})");
    }
}

sub add_back {
    reload_with('back', cam_line(ale => 'A'), cam_line(bob => 'B'), cam_line(cid => 'E'), cam_line(dan => 'D'));
    Test::More::ok(wait_for_log(qr/camera "bob": streaming/, 20, $Reload{back}{mark}), 'bob streams again');
    BarHls::Test::wait_for_playlist('/live/bob/index.m3u8', 2, 15);
}

sub check_back {
    my ($block, $body) = @_;
    my $name = $block->name;
    my $pl = parse_playlist($body);
    my $last = $Before{bob}{segments}[-1]{msn};
    ok($pl->{segments}[0]{msn} > $last,
       "$name - bob's segments go on above the ones it had (seg-$last.m4s -> seg-$pl->{segments}[0]{msn}.m4s)");
    is(http_get("/live/bob/$Before{bob}{segments}[-1]{uri}")->{status}, 404,
       "$name - its old segments are not served again");
}

run_tests();

__DATA__

=== TEST 1: three cameras
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_A_PORT/stream1 segment=1s;
bar_hls_camera bob rtsp://127.0.0.1:$TEST_NGINX_B_PORT/stream1 segment=1s;
bar_hls_camera cid rtsp://127.0.0.1:$TEST_NGINX_C_PORT/stream1 segment=1s;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
BarHls::Test::wait_playlist_ok("/live/$_/index.m3u8", 2, 15) for qw(ale bob cid);
--- request
GET /live/bob/index.m3u8
--- bar_playlist: min=2 target=1
--- no_error_log
[error]



=== TEST 2: reload: bob removed, dan added, cid now another camera
--- init
main::before_reload();
--- request
GET /live/dan/index.m3u8
--- bar_playlist: min=1 target=1
--- bar_check: removed added



=== TEST 3: the changed camera: a new init segment after a discontinuity
--- request
GET /live/cid/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: changed



=== TEST 4: the unchanged camera went on
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: unchanged



=== TEST 5: bob added back: higher sequence numbers than it ever had
--- init
main::add_back();
--- request
GET /live/bob/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: back
