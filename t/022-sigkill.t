# Workers killed with SIGKILL (master process, two workers): the master
# respawns them, the killed owner's camera resumes under a new owner
# within seconds (discontinuity, sequence going on), the other camera
# keeps serving all along, and no camera ever sees two RTSP sessions.
# Measures the time to resume.  nginx's own "[alert] ... worker process N
# exited on signal 9" lines are expected here, and only those.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
log_level('info');
no_shuffle();
add_block_preprocessor(sub {
    my ($block) = @_;
    default_log_checks($block);
    # the kill blocks check their [alert] lines themselves
    if ($block->name =~ /SIGKILL/) {
        my $pats = $block->no_error_log;
        $block->set_value(no_error_log => [grep { ref $_ || $_ ne '[alert]' } @$pats]);
    }
});
add_response_body_check(\&check_body);

our $Ale = start_camera(env => 'TEST_NGINX_CAM1_PORT', gop => 25);
our $Bob = start_camera(env => 'TEST_NGINX_CAM2_PORT', gop => 25);
our %Fc = (ale => $Ale, bob => $Bob);

our (%Killed, $MaxConn);

sub open_or_last {
    my ($pl) = @_;
    return $pl->{open} && defined $pl->{open}{msn} ? $pl->{open}{msn}
         : @{ $pl->{segments} } ? $pl->{segments}[-1]{msn} : 0;
}

# SIGKILLs the workers owning @cams, waits for the cameras to resume,
# times it
sub kill_owners {
    my ($label, @cams) = @_;
    my (%pid, %last);
    for my $cam (@cams) {
        my $c = wait_status($cam, 10, sub { $_[0]{state} eq 'streaming' && $_[0]{segments} >= 2 });
        Test::More::ok($c, "$label: $cam streams before") or return;
        $pid{$cam} = $c->{owner_pid};
        $last{$cam} = open_or_last(parse_ll(http_get("/live/$cam/index.m3u8")->{content}));
    }
    my %victims = map { $_ => 1 } values %pid;
    my @workers = worker_pids();
    my $poll = start_poller(paths => ['/live/ale/index.m3u8', '/live/bob/index.m3u8'],
                            interval => 0.2, secs => 60);
    sleep 0.5;
    my $t0 = time;
    for my $victim (sort keys %victims) {
        Test::More::ok(kill('KILL', $victim), "$label: SIGKILL sent to worker $victim");
    }
    my (%t_owner, %t_part, %t_seg, %resumed);
    my %done;
    $MaxConn = max_sessions([$Ale->{port}, $Bob->{port}], 30, sub {
        for my $cam (@cams) {
            next if $done{$cam};
            my $c = camera_status($cam) or next;
            $t_owner{$cam} //= time - $t0
                if $c->{owner_pid} && !$victims{ $c->{owner_pid} } && $c->{state} eq 'streaming';
            my $text = http_get("/live/$cam/index.m3u8")->{content};
            my $pl = parse_ll($text) or next;
            my @new = grep { $_->{discontinuity} && defined $_->{msn} && $_->{msn} > $last{$cam} }
                      @{ $pl->{segments} }, $pl->{open} || ();
            $t_part{$cam} //= time - $t0 if grep { @{ $_->{parts} } } @new;
            # the playlist that first listed a new segment: the window may
            # slide past the discontinuity before check_killed() looks
            $resumed{$cam} //= $text if grep { defined $_->{duration} } @new;
            $t_seg{$cam} //= time - $t0 if grep { defined $_->{duration} } @new;
            $done{$cam} = 1 if defined $t_seg{$cam};
        }
        return keys %done == @cams;
    });
    sleep 1;
    $Killed{$label} = { records => stop_poller($poll), t0 => $t0, cams => \@cams,
                        victims => \%victims, old_workers => \@workers, pid => \%pid,
                        last => \%last, resumed => \%resumed, t_seg => \%t_seg };
    for my $cam (@cams) {
        Test::More::ok(defined $t_seg{$cam}, "$label: $cam streams again after the SIGKILL");
        measure('%s: %s resumed after SIGKILL of its owner: new owner streaming %s s, '
                . 'first new part %s s, first new segment %s s', $label, $cam,
                map { defined $_ ? sprintf('%.2f', $_) : 'never' }
                    $t_owner{$cam}, $t_part{$cam}, $t_seg{$cam});
    }
    measure('%s: most RTSP connections at once (kernel, nginx side / camera side): ale %d/%d, bob %d/%d; '
            . 'camera stats max: ale %s, bob %s', $label,
            (map { ($MaxConn->{$_->{port}}{client}, $MaxConn->{$_->{port}}{camera}) } $Ale, $Bob),
            camera_stats($Ale)->{max} // '?', camera_stats($Bob)->{max} // '?');
}

sub check_killed {
    my ($block, $body, $label) = @_;
    my $name = $block->name;
    my $k = $Killed{$label} or return fail("$name - nothing killed");
    my @now = worker_pids();
    is(scalar @now, 2, "$name - two workers again (@now)");
    ok(!(grep { $k->{victims}{$_} } @now), "$name - the killed workers are gone");
    ok(!(grep { process_alive($_) } keys %{ $k->{victims} }), "$name - the killed pids are dead");
    my @alerts = grep { /\[alert\]/ } error_log_lines();
    my @other = grep { !/worker process (\d+) exited on signal 9/ } @alerts;
    my %exited = map { /worker process (\d+) exited on signal 9/ ? ($1 => 1) : () } @alerts;
    ok($exited{$_}, "$name - nginx logged worker $_ exited on signal 9") for keys %{ $k->{victims} };
    ok(!@other, "$name - no other [alert]") or diag(@other);
    for my $cam (qw(ale bob)) {
        my $c = camera_status($cam) || {};
        is($c->{state}, 'streaming', "$name - $cam: streaming");
        ok($c->{owner_pid} && !$k->{victims}{ $c->{owner_pid} } && process_alive($c->{owner_pid}),
           "$name - $cam: owned by a live worker ($c->{owner_pid})");
        is(scalar(grep { $_ == ($c->{owner_pid} // 0) } @now), 1, "$name - $cam: one of nginx's workers");
        # nginx's side: a killed worker's socket is closed as it dies; the
        # camera's side may lag (the reset is processed later), see measure
        is($MaxConn->{ $Fc{$cam}{port} }{client}, 1, "$name - $cam: never two RTSP connections at once");
        is(camera_stats($Fc{$cam})->{current}, 1, "$name - $cam: one RTSP session now");
    }
    for my $cam (@{ $k->{cams} }) {
        my $pl = parse_ll($k->{resumed}{$cam} // '');
        # (the killed session may have begun one more segment meanwhile)
        my @after = grep { $_->{msn} > $k->{last}{$cam} } @{ $pl->{segments} };
        my @disc = grep { $_->{discontinuity} } @after;
        is(scalar @disc, 1, "$name - $cam: one EXT-X-DISCONTINUITY after seg-$k->{last}{$cam}")
            or diag($k->{resumed}{$cam} // 'no playlist listed a new segment');
        my $first = $disc[0] or next;
        # numbers come from the clock: above the old ones, and by no more
        # than the seconds (segment=1s) the camera took to come back
        my $most = $k->{last}{$cam} + 2 + int(($k->{t_seg}{$cam} // 0) + 0.999);
        ok($first->{msn} > $k->{last}{$cam} && $first->{msn} <= $most,
           sprintf "$name - $cam: the sequence went on (seg-%s after seg-%s, %.2f s later; at most seg-%s)",
           $first->{msn}, $k->{last}{$cam}, $k->{t_seg}{$cam} // -1, $most);
        my $r = probe_segment("/live/$cam", $first->{map}, $first->{uri});
        ok($r->{rc} == 0 && $r->{first_key} && ($r->{video} // 0) > 0,
           "$name - $cam: the first new segment decodes") or diag($r->{err});
    }
    # the cameras whose owner was not killed kept serving, and growing
    my %killed = map { $_ => 1 } @{ $k->{cams} };
    for my $cam (grep { !$killed{$_} } qw(ale bob)) {
        my @r = grep { $_->{path} eq "/live/$cam/index.m3u8" } @{ $k->{records} };
        # requests the killed worker was serving may fail: not later ones
        my @bad = grep { $_->{status} != 200 && $_->{t} > $k->{t0} + 0.5 } @r;
        my @cut = grep { $_->{status} != 200 && $_->{t} <= $k->{t0} + 0.5 } @r;
        is(scalar @bad, 0, "$name - $cam: every later request answered 200 ("
                           . scalar(@r) . ' requests, ' . scalar(@cut) . ' cut by the kill)')
            or diag(join "\n", map { "$_->{t}: $_->{status} $_->{why}" } @bad);
        my ($gap, $t_last, $last) = (0, undef, 0);
        for (grep { $_->{status} == 200 } @r) {
            if ($_->{last} > $last) {
                $gap = $_->{t} - $t_last if defined $t_last && $_->{t} - $t_last > $gap;
                ($t_last, $last) = ($_->{t}, $_->{last});
            }
        }
        measure('%s: %s meanwhile: longest time without a new segment %.2f s', $label, $cam, $gap);
        ok($gap < 5, "$name - $cam: kept streaming (longest gap ${gap}s)");
    }
}

sub check_ale_killed  { check_killed(@_, 'ale owner') }
sub check_bob_killed  { check_killed(@_, 'bob owner') }
sub check_both_killed { check_killed(@_, 'both workers') }

run_tests();

__DATA__

=== TEST 1: two cameras, two workers
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



=== TEST 2: SIGKILL the worker that owns ale
--- init
main::kill_owners('ale owner', 'ale');
--- request
GET /live/ale/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: ale_killed



=== TEST 3: SIGKILL the worker that owns bob
--- init
main::kill_owners('bob owner', 'bob');
--- request
GET /live/bob/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: bob_killed



=== TEST 4: SIGKILL both workers at once
--- init
main::kill_owners('both workers', 'ale', 'bob');
--- request
GET /live/bob/index.m3u8
--- bar_playlist: min=2 target=1
--- bar_check: both_killed
