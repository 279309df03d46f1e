# Reloads and restarts that cannot break what is streaming (issue 10),
# one block per defect the issue found, each failing on the code before
# it (dd47375) and passing now:
#
#  1. a reload that fails (a `listen` on a port this test holds) while it
#     changes a camera's window, part and segment: every camera streams on
#     with its old settings, no worker exits, no listed URL fails;
#  2. 20 reloads in a row that change segment, part and window while a
#     tiny zone is full (the first one gives a camera whose own camera is
#     stopped a part ring the full zone has no room for): no worker exits,
#     no 5xx, no crash loop, every camera streams;
#  3. 300 camera names over 20 reloads (15 new ones each): every reload
#     succeeds, every new camera streams within a bound every time (the
#     time to its first segment is measured), the removed ones are freed;
#  4. a reload that the master takes 2 s to load (its new `listen` is
#     retried until this test frees the port), timed so that the running
#     worker 0 collects in the middle of it: the camera it adds streams,
#     no worker crashes;
#  5. a reload that resizes bar_hls_zone: refused with a message that says
#     to restart, the camera never sees a second RTSP session;
#  6. held LL-HLS requests on both workers while classic viewers poll the
#     same camera as fast as they can (bench/wakeup.mjs): every one is
#     answered with what it waited for, none by the block timeout, and the
#     other worker wakes within half a part of the owner;
#  7. a reload with master_process off: the warning that nginx stops.
use strict;
use warnings;

use lib 't/lib';
use BarHls::Test;
use BarHls::Fault;
use File::Spec ();
use IO::Socket::INET ();
use IPC::Run ();
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(sleep time);
use Test::Nginx::Socket 'no_plan';

master_on();
workers(2);
worker_connections(1024);
log_level('info');
no_shuffle();
add_block_preprocessor(\&block_setup);
add_response_body_check(\&check_body);

our $Root = repo_root();

# The fake cameras, started for the blocks that name them in
# "--- bar_cameras" (and stopped when a block no longer does), so that no
# more of them encode at once than a block needs.
our %CamOpts = (
    A => { gop => 25, size => '320x180' },
    B => { gop => 25, size => '320x180' },
    Z1 => { gop => 25, size => '320x180' },
    Z2 => { gop => 25, size => '320x180' },
    Z3 => { gop => 25, size => '320x180' },
    N1 => { gop => 12, size => '320x180' },
    N2 => { gop => 12, size => '320x180' },
    S => { gop => 25, size => '320x180' },
    W => { gop => 25, size => '320x180' },
);
our %Cam;
our %CheckIgnore = %BarHls::Checker::Ignore;

# Per block: master_process as the block says, its fake cameras, the
# playlist checker's rules it breaks on purpose ("--- bar_check_ignore"),
# and the log checks of every test file (no [alert], [crit], [emerg]
# unless expected, never the cameras' password).
sub block_setup {
    my ($block) = @_;
    if (defined $block->bar_master_off) { master_off() } else { master_on() }
    %BarHls::Checker::Ignore = (%CheckIgnore, map { $_ => $block->name }
                                split ' ', $block->bar_check_ignore // '');
    if (defined(my $list = $block->bar_cameras)) {
        my %want = map { $_ => 1 } split ' ', $list;
        for my $name (sort keys %Cam) {
            next if $want{$name};
            stop_camera(delete $Cam{$name});
        }
        for my $name (sort keys %want) {
            $Cam{$name} //= start_camera(env => "TEST_NGINX_${name}_PORT", %{ $CamOpts{$name} });
        }
    }
    default_log_checks($block);
}

# ------------------------------------------------------------ helpers

sub conf_file { File::Spec->catfile($ENV{TEST_NGINX_SERVER_ROOT}, 'conf', 'nginx.conf') }

# rewrites nginx.conf with $edit->($text) and sends SIGHUP; returns the
# error.log mark and the time of the signal
sub reload_conf {
    my ($edit) = @_;
    my $file = conf_file();
    open my $in, '<', $file or die "$file: $!";
    my $text = do { local $/; <$in> };
    close $in;
    $text = $edit->($text);
    open my $out, '>', "$file.new" or die "$file.new: $!";
    print $out $text;
    close $out;
    rename "$file.new", $file or die "$file: $!";
    my $mark = error_log_mark();
    my $master = nginx_master_pid() or die "no nginx master\n";
    my $t0 = time;
    kill 'HUP', $master or die "SIGHUP: $!\n";
    return { mark => $mark, t0 => $t0 };
}

# the bar_hls_camera lines replaced by @lines
sub with_cameras {
    my ($text, @lines) = @_;
    $text =~ s/^[ \t]*bar_hls_camera [^\n]*\n//mg;
    $text =~ s/^([ \t]*bar_hls_zone [^\n]*\n)/$1 . join('', map { "$_\n" } @lines)/me
        or die "no bar_hls_zone line in nginx.conf\n";
    return $text;
}

# waits until the reload of $r is done: (1, new worker pids) once the
# master started $n workers for it, (0, reason) when it failed
sub reload_done {
    my ($r, $n, $secs) = @_;
    my ($ok, $why);
    BarHls::Test::wait_until($secs // 15, 0.02, sub {
        my @l = log_lines_since($r->{mark});
        if (grep({ /start worker process \d+/ } @l) >= $n) {
            $ok = 1;
            return 1;
        }
        # a listen retried logs [emerg] lines too: wait for its end
        my @emerg = grep { /\[emerg\]/ && !/bind\(\) to .* failed/ } @l;
        if (@emerg) {
            $why = $emerg[0];
            return 1;
        }
        return 0;
    });
    $why //= 'no new workers in time' unless $ok;
    chomp $why if defined $why;
    return ($ok ? 1 : 0, $why);
}

sub exits_since {
    my ($mark) = @_;
    return grep { /exited on signal|exited with code [1-9]/ } log_lines_since($mark);
}

# the master's workers that are not shutting down, by pid
sub current_workers {
    return grep {
        my $cmd = BarHls::Test::slurp("/proc/$_/cmdline") // '';
        $cmd =~ /^nginx: worker process(?! is shutting)/;
    } worker_pids();
}

# one look at a camera's listed URLs: the playlist, its newest segment and
# newest part; a segment the zone evicted after the playlist was fetched
# is fine once the playlist no longer lists it.  Returns
# { status, pl (parse_ll), bad => [...] }.
sub look {
    my ($cam) = @_;
    my $res = http_get("/live/$cam/index.m3u8");
    my %r = (status => $res->{status}, bad => []);
    return \%r unless $res->{status} == 200;
    my $pl = $r{pl} = parse_ll($res->{content});
    $r{text} = $res->{content};
    my @segs = @{ $pl->{segments} || [] };
    my @parts = map { @{ $_->{parts} } } @segs, $pl->{open} || ();
    for my $uri (grep { defined } ($segs[-1] && $segs[-1]{uri}), ($parts[-1] && $parts[-1]{uri})) {
        my $st = http_get("/live/$cam/$uri")->{status};
        next if $st == 200;
        if ($st == 404) {
            my $now = http_get("/live/$cam/index.m3u8");
            next if $now->{status} == 200 && index($now->{content}, "$uri\"") < 0
                    && index($now->{content}, "\n$uri\n") < 0;
        }
        push @{ $r{bad} }, "$cam/$uri: $st";
    }
    return \%r;
}

sub settings {
    my ($pl) = @_;
    return sprintf 'TARGETDURATION %s, PART-TARGET %s, %d segments', $pl->{target} // '-',
                   $pl->{part_target} // '-', scalar @{ $pl->{segments} || [] };
}

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s ? $s[$#s / 2] : 0;
}

# ------------------------------------------- 1: a reload that fails

our (%Before, @Looks, $FailMark, @Workers1, $Busy);

sub failed_reload {
    for my $cam (qw(ale bob)) {
        my $min = $cam eq 'ale' ? 4 : 3;
        my $text = BarHls::Test::wait_for_playlist("/live/$cam/index.m3u8", $min, 20);
        Test::More::ok($text, "$cam lists its whole window ($min segments) before the reload")
            or Test::More::diag("last seen: $BarHls::Test::LastStatus");
        $Before{$cam} = parse_ll($text);
    }
    @Workers1 = current_workers();
    $Busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                  Listen => 1, ReuseAddr => 1) or die "listen: $!";
    my $port = $Busy->sockport;
    my $r = reload_conf(sub {
        my $t = with_cameras($_[0],
            "bar_hls_camera ale rtsp://127.0.0.1:$Cam{A}{port}/stream1 segment=2s part=500ms window=2 bitrate=1m;",
            "bar_hls_camera bob rtsp://127.0.0.1:$Cam{B}{port}/stream1 segment=2s part=off window=6 bitrate=1m;");
        $t =~ s/^(\s*listen\s+127\.0\.0\.1:\d+;)/$1\n        listen 127.0.0.1:$port;/m
            or die "no listen line\n";
        return $t;
    });
    $FailMark = $r->{mark};
    # watch every listed URL while nginx retries the bind (2.5 s), then 4 s
    my $end;
    for (my $i = 0; $i < 2000; $i++) {
        push @Looks, map { { cam => $_, t => time - $r->{t0}, %{ look($_) } } } qw(ale bob);
        $end //= time + 4 if grep { /still could not bind/ } log_lines_since($FailMark);
        last if ($end && time > $end) || time - $r->{t0} > 20;
        sleep 0.1;
    }
    Test::More::ok($end, 'the reload failed: "still could not bind()"');
    measure('failed reload: %d looks at the listed URLs over %.1f s', scalar @Looks, time - $r->{t0});
}

sub check_failed_reload {
    my ($block) = @_;
    my $name = $block->name;
    close $Busy if $Busy;
    for my $cam (qw(ale bob)) {
        my $was = $Before{$cam};
        my @l = grep { $_->{cam} eq $cam } @Looks;
        my @not200 = grep { $_->{status} != 200 } @l;
        ok(!@not200, "$name - $cam: every playlist request 200 (" . scalar(@l) . ')')
            or diag(join "\n", map { sprintf '%.2fs: %s', $_->{t}, $_->{status} } @not200[0 .. ($#not200 > 9 ? 9 : $#not200)]);
        my @bad = map { @{ $_->{bad} } } @l;
        ok(!@bad, "$name - $cam: every listed segment and part served") or diag(join "\n", @bad[0 .. ($#bad > 9 ? 9 : $#bad)]);
        my @changed = grep { $_->{pl} && settings($_->{pl}) ne settings($was) } @l;
        ok(!@changed, "$name - $cam: streams on with its old settings (" . settings($was) . ')')
            or diag(join "\n", map { sprintf '%.2fs: %s', $_->{t}, settings($_->{pl}) } @changed[0 .. ($#changed > 4 ? 4 : $#changed)]);
        my $last = $l[-1]{pl};
        ok($last && $last->{segments}[-1]{msn} > $was->{segments}[-1]{msn},
           "$name - $cam: new segments came");
    }
    my @now = current_workers();
    is("@now", "@Workers1", "$name - the same workers as before the reload (@Workers1)");
    my @exits = exits_since($FailMark);
    ok(!@exits, "$name - no worker exited") or diag(@exits);
}

# ---------------------------------- 2: 20 reloads with the zone full

# The playlist checker's rules that this breaks on purpose: a full zone
# evicts segments early (live-duration), and a reload that changes
# segment= and part= changes TARGETDURATION and PART-TARGET while parts
# of the old length are still listed.
#
# z1's fake camera is stopped (SIGSTOP) while z2 and z3 fill the zone: z1
# keeps its rings and almost no media, so a new, larger part ring (the
# second combination: about 90 KB before, 320 KB now, passing the zone's
# estimate at bitrate=10k) finds no room in the full zone.  The code
# before this rebuilt the rings in the master, one after the other: the
# segments were allocated, the parts not, the reload failed, and the old
# workers went on with that slot until z1's camera came back.
our @Combos = ('segment=1s part=200ms window=3', 'segment=2s part=50ms window=20',
               'segment=1s part=off window=20', 'segment=2s part=500ms window=6');
our (%Full, $FullMark, @FullReloads);

sub full_reloads {
    BarHls::Test::wait_playlist_ok("/live/$_/index.m3u8", 1, 20) for qw(z1 z2 z3);
    pause_camera($Cam{Z1});
    my $t0 = time;
    Test::More::ok(wait_for_log(qr/camera "z[23]": the zone is full/, 30),
                   sprintf 'z2 and z3 filled the zone (%.1fs)', time - $t0);
    $FullMark = error_log_mark();
    my $z1 = look('z1')->{pl};
    my $z1msn = $z1 && @{ $z1->{segments} } ? $z1->{segments}[-1]{msn} : 0;
    for my $k (1 .. 20) {
        # z1 first, with the large part ring at the first reload
        my @lines = map {
            my $i = $_;
            "bar_hls_camera z$i rtsp://127.0.0.1:$Cam{\"Z$i\"}{port}/stream1 $Combos[($k + $i - 1) % @Combos] bitrate=10k;"
        } 1 .. 3;
        my $r = reload_conf(sub { with_cameras($_[0], @lines) });
        my ($ok, $why) = reload_done($r, 2, 10);
        push @FullReloads, { k => $k, ok => $ok, why => $why, took => time - $r->{t0} };
        # z1's camera back: its owner publishes into what the reload left
        my $end = time + 1.0;
        if ($k == 1) {
            resume_camera($Cam{Z1});
            my $t1 = time;
            $Full{z1_back} = BarHls::Test::wait_until(25, 0.3, sub {
                my $pl = look('z1')->{pl} or return;
                return @{ $pl->{segments} } && $pl->{segments}[-1]{msn} > $z1msn ? time - $t1 : 0;
            });
            $end = time + 3;
        }
        # look at every camera while the new workers take over
        for (my $i = 0; $i < 100 && time < $end; $i++) {
            for my $cam (qw(z1 z2 z3)) {
                my $l = look($cam);
                $Full{$cam}{ $l->{status} }++;
                push @{ $Full{bad} }, "reload $k: @{ $l->{bad} }" if @{ $l->{bad} };
                # z1 may have nothing listed while its camera is stopped
                push @{ $Full{not200} }, "reload $k: $cam $l->{status}"
                    if $l->{status} != 200 && ($cam ne 'z1' || $l->{status} >= 500 && $l->{status} != 503);
            }
        }
    }
    # every camera streams after the last one
    for my $cam (qw(z1 z2 z3)) {
        my $first = look($cam)->{pl};
        my $msn = $first && @{ $first->{segments} } ? $first->{segments}[-1]{msn} : 0;
        $Full{advanced}{$cam} = BarHls::Test::wait_until(20, 0.2, sub {
            my $pl = look($cam)->{pl} or return;
            return @{ $pl->{segments} } && $pl->{segments}[-1]{msn} > $msn;
        });
    }
}

sub check_full_reloads {
    my ($block) = @_;
    my $name = $block->name;
    my @failed = grep { !$_->{ok} } @FullReloads;
    is(scalar @FullReloads, 20, "$name - 20 reloads");
    ok(!@failed, "$name - every reload succeeded") or diag(map { "reload $_->{k}: $_->{why}\n" } @failed);
    my @exits = exits_since($FullMark);
    ok(!@exits, "$name - no worker exited (no crash, no crash loop)")
        or diag(scalar(@exits) . " exits, the first: @exits[0 .. ($#exits > 4 ? 4 : $#exits)]");
    ok(!$Full{not200}, "$name - every playlist request 200 (z1: or 503 while nothing is listed)")
        or diag(join "\n", @{ $Full{not200} }[0 .. ($#{ $Full{not200} } > 9 ? 9 : $#{ $Full{not200} })]);
    ok(!$Full{bad}, "$name - the newest listed segment and part always served")
        or diag(join "\n", @{ $Full{bad} }[0 .. ($#{ $Full{bad} } > 9 ? 9 : $#{ $Full{bad} })]);
    ok($Full{z1_back}, "$name - z1 streams again once its camera is back, after the first reload");
    ok($Full{advanced}{$_}, "$name - $_ streams after the 20th reload") for qw(z1 z2 z3);
    my $stale = grep { /no room in the zone for its new window, part or variant: it goes on with its old ones/ }
                log_lines_since($FullMark);
    measure('20 reloads with the zone full: %d "goes on with its old ones", each reload done in %s s; '
            . 'z1 streamed again %s s after its camera came back', $stale,
            join(' ', map { sprintf '%.2f', $_->{took} } @FullReloads),
            $Full{z1_back} ? sprintf('%.1f', $Full{z1_back}) : 'never');
    for my $cam (qw(z1 z2 z3)) {
        measure('%s: playlist answers during the reloads: %s', $cam,
                join(', ', map { "$_ x$Full{$cam}{$_}" } sort keys %{ $Full{$cam} || {} }));
    }
}

# --------------------------- 3: 300 names, each batch added by a reload

our $Bound = 10;            # s from SIGHUP to an added camera's first segment
our (@Batches, $NamesMark);

sub name_line {
    my ($name, $i) = @_;
    my $fc = $Cam{ $i % 2 ? 'N1' : 'N2' };
    return "bar_hls_camera $name rtsp://127.0.0.1:$fc->{port}/stream1 segment=500ms window=2 bitrate=500k;";
}

sub names_reloads {
    BarHls::Test::wait_playlist_ok('/live/base/index.m3u8', 1, 20);
    $NamesMark = error_log_mark();
    my $base = "bar_hls_camera base rtsp://127.0.0.1:$Cam{N1}{port}/stream1 segment=500ms window=2 bitrate=500k;";
    for my $k (1 .. 20) {
        my @names = map { "n${k}x$_" } 1 .. 15;
        my $r = reload_conf(sub { with_cameras($_[0], $base, map { name_line($names[$_], $_) } 0 .. $#names) });
        my ($ok, $why) = reload_done($r, 2, 10);
        my %first;
        if ($ok) {
            BarHls::Test::wait_until($Bound, 0.05, sub {
                for my $n (grep { !$first{$_} } @names) {
                    my $res = http_get("/live/$n/index.m3u8");
                    $first{$n} = time - $r->{t0} if $res->{status} == 200 && $res->{content} =~ /^seg-\d+\./m;
                }
                return keys %first == @names;
            });
        }
        my @t = sort { $a <=> $b } values %first;
        push @Batches, { k => $k, ok => $ok, why => $why, streamed => scalar @t,
                         min => $t[0], median => median(@t), max => $t[-1],
                         missing => [grep { !$first{$_} } @names] };
        measure('reload %2d: %s; its 15 new cameras: %d streaming, first segment after %s s',
                $k, $ok ? 'done' : "failed ($why)", scalar @t,
                @t ? sprintf('%.2f / %.2f / %.2f (min / median / max)', $t[0], median(@t), $t[-1]) : '-');
    }
}

sub check_names {
    my ($block) = @_;
    my $name = $block->name;
    my @failed = grep { !$_->{ok} } @Batches;
    is(scalar @Batches, 20, "$name - 20 reloads, 300 new names");
    ok(!@failed, "$name - every reload succeeded") or diag(map { "reload $_->{k}: $_->{why}\n" } @failed);
    my @slow = grep { $_->{ok} && $_->{streamed} < 15 } @Batches;
    ok(!@slow, "$name - every new camera streamed within ${Bound} s of its reload")
        or diag(map { "reload $_->{k}: not streaming: @{ $_->{missing} }\n" } @slow);
    my @all = map { $_->{max} // () } @Batches;
    my @med = map { $_->{median} // () } @Batches;
    measure('a camera added by reload: first segment %.2f s after SIGHUP (median of the reloads\' medians), '
            . 'slowest %.2f s (segment=500ms, GOP 0.48 s)', median(@med), (sort { $b <=> $a } @all)[0] // 0);
    my $room = grep { /no room in the zone/ } log_lines_since($NamesMark);
    is($room, 0, "$name - never \"no room in the zone\"");
    my @exits = exits_since($NamesMark);
    ok(!@exits, "$name - no worker exited") or diag(@exits[0 .. ($#exits > 4 ? 4 : $#exits)]);
    my $freed = grep { /camera "n\d+x\d+" is no longer configured, its media is freed/ } log_lines_since($NamesMark);
    measure('removed cameras freed during the reloads: %d of 285',
            $freed);
    # once the reloads stop, the newest worker 0 frees the rest
    my $t0 = time;
    BarHls::Test::wait_until(15, 0.2, sub {
        $freed = grep { /camera "n\d+x\d+" is no longer configured, its media is freed/ } log_lines_since($NamesMark);
        return $freed >= 285;
    });
    is($freed, 285, sprintf "$name - every removed camera freed %.1f s after the last reload", time - $t0);
}

# ---------- 4: a reload that takes the master 2 s, over a collection

our (%Slow);

# the start of a process, epoch seconds (10 ms)
sub started_at {
    my ($pid) = @_;
    my $stat = BarHls::Test::slurp("/proc/$pid/stat") // return;
    my ($rest) = $stat =~ /\)\s+(.*)$/s or return;
    my @f = split ' ', $rest;
    my ($up) = split ' ', BarHls::Test::slurp('/proc/uptime') // '';
    my $hz = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;
    return time - $up + $f[19] / $hz;
}

sub slow_reload {
    BarHls::Test::wait_playlist_ok('/live/base/index.m3u8', 1, 20);
    # worker 0 (the first started) collects every 5 s from its start
    my ($w0) = sort { $a <=> $b } current_workers();
    my $start = started_at($w0);
    my $k = POSIX::ceil((time + 1.5 - $start) / 5);
    my $tick = $start + 5 * $k;
    $Busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                  Listen => 1, ReuseAddr => 1) or die "listen: $!";
    my $port = $Busy->sockport;
    my $base = "bar_hls_camera base rtsp://127.0.0.1:$Cam{N1}{port}/stream1 segment=500ms window=2 bitrate=500k;";
    my $late = "bar_hls_camera late rtsp://127.0.0.1:$Cam{N2}{port}/stream1 segment=500ms window=2 bitrate=500k;";
    my $wait = $tick - 1.0 - time;
    sleep $wait if $wait > 0;
    my $r = reload_conf(sub {
        my $t = with_cameras($_[0], $base, $late);
        $t =~ s/^(\s*listen\s+127\.0\.0\.1:\d+;)/$1\n        listen 127.0.0.1:$port;/m or die "no listen line\n";
        return $t;
    });
    $Slow{mark} = $r->{mark};
    $Slow{tick} = $tick - $r->{t0};
    # nginx tries 5 times, 500 ms apart: free the port before the fifth
    my $tries = BarHls::Test::wait_until(6, 0.01, sub {
        my $n = grep { /try again to bind\(\) after 500ms/ } log_lines_since($r->{mark});
        return $n >= 4 ? $n : 0;
    });
    close $Busy;
    undef $Busy;
    $Slow{freed} = time - $r->{t0};
    $Slow{tries} = $tries;
    ($Slow{ok}, $Slow{why}) = reload_done($r, 2, 10);
    $Slow{loaded} = time - $r->{t0};
    $Slow{streaming} = BarHls::Test::wait_until($Bound, 0.05, sub {
        my $res = http_get('/live/late/index.m3u8');
        return $res->{status} == 200 && $res->{content} =~ /^seg-\d+\./m ? time - $r->{t0} : 0;
    });
    measure('slow reload: worker 0 (%d) collected %.2f s after SIGHUP; the port freed after %.2f s (%s tries '
            . 'failed), the reload done after %.2f s; "late" streamed after %s s', $w0, $Slow{tick},
            $Slow{freed}, $tries // '?', $Slow{loaded},
            $Slow{streaming} ? sprintf('%.2f', $Slow{streaming}) : 'never');
}

sub check_slow_reload {
    my ($block) = @_;
    my $name = $block->name;
    ok($Slow{tries}, "$name - nginx retried the bind (the master was still loading)");
    ok($Slow{tick} > 0 && $Slow{tick} < $Slow{freed},
       sprintf "$name - a collection fell inside the load (%.2f s < %.2f s)", $Slow{tick}, $Slow{freed});
    ok($Slow{ok}, "$name - the reload succeeded once the port was free") or diag($Slow{why});
    ok($Slow{streaming}, "$name - the camera it added streams (first segment within ${Bound} s)");
    my @freed = grep { /camera "late" is no longer configured/ } log_lines_since($Slow{mark});
    ok(!@freed, "$name - the camera it added was not collected") or diag(@freed);
    my @exits = exits_since($Slow{mark});
    ok(!@exits, "$name - no worker exited") or diag(scalar(@exits) . " exits: @exits[0 .. ($#exits > 4 ? 4 : $#exits)]");
}

# ------------------------------------------------ 5: a zone resize

our (%Resize);

sub resize_reload {
    my $fc = $Cam{S};
    BarHls::Test::wait_for_playlist('/live/solo/index.m3u8', 2, 20);
    my $before = parse_playlist(http_get('/live/solo/index.m3u8')->{content});
    $Resize{workers} = [current_workers()];
    # the camera's own count settles once its probe is gone
    $Resize{total0} = camera_stats($fc)->{total};
    my $r = reload_conf(sub { my $t = $_[0]; $t =~ s/bar_hls_zone 32m;/bar_hls_zone 48m;/ or die "no zone line\n"; $t });
    $Resize{mark} = $r->{mark};
    my $max = max_sessions([$fc->{port}], 6);
    $Resize{max} = $max->{ $fc->{port} };
    $Resize{total1} = camera_stats($fc)->{total};
    $Resize{after} = [current_workers()];
    my $last = $before->{segments}[-1]{msn};
    $Resize{advanced} = BarHls::Test::wait_for_playlist('/live/solo/index.m3u8', 1, 10, sub {
        (grep { $_ > $last } playlist_msns($_[0])) >= 1 });
    measure('zone resize on reload: RTSP sessions at the camera, most at once over 6 s (kernel, 10 ms): '
            . 'camera side %d, nginx side %d; sessions ever: %s -> %s', $Resize{max}{camera},
            $Resize{max}{client}, $Resize{total0} // '?', $Resize{total1} // '?');
}

sub check_resize {
    my ($block) = @_;
    my $name = $block->name;
    my @l = log_lines_since($Resize{mark});
    my @msg = grep { /\[emerg\] .*bar_hls: "bar_hls_zone" cannot change from 32768k to 49152k on reload, it would pull every camera twice: restart nginx to resize it/ } @l;
    ok(@msg, "$name - refused: \"cannot change from 32768k to 49152k on reload ... restart nginx\"")
        or diag(grep { /emerg|bar_hls_zone|reconfiguring|start worker/ } @l);
    is("@{ $Resize{after} }", "@{ $Resize{workers} }", "$name - the running workers go on");
    is($Resize{max}{camera}, 1, "$name - never two RTSP sessions at once (camera side)");
    is($Resize{max}{client}, 1, "$name - never two RTSP sessions at once (nginx side)");
    is($Resize{total1}, $Resize{total0}, "$name - no new RTSP session at all");
    ok($Resize{advanced}, "$name - the camera streams on");
}

# ------------------------------------------- 6: wake-ups under load

our ($Wake, $WakeErr, $WakeOwner, $WakePort);
our $Part = 0.5;            # s, part= of the camera

sub wakeup_load {
    BarHls::Test::wait_for_playlist('/live/cam/index.m3u8', 2, 25);
    $WakeOwner = camera_status('cam')->{owner_pid};
    my $log = File::Spec->catfile($ENV{TEST_NGINX_SERVER_ROOT}, 'logs', 'wake.log');
    my @cmd = ('node', "$Root/bench/wakeup.mjs", '--url', "http://127.0.0.1:$WakePort/live/cam/",
               '--owner', $WakeOwner, '--seconds', 10, '--ll', 40, '--classic', 4, '--fetchers', 4,
               '--late', $Part * 1000 / 2, '--access-log', $log, '--hard', 50);
    my ($out, $err) = ('', '');
    my $ok = eval { IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(60)); 1 };
    $WakeErr = $ok ? $err : "$@ $err";
    $Wake = eval { JSON::PP::decode_json($out) };
}

sub check_wakeups {
    my ($block) = @_;
    my $name = $block->name;
    ok($Wake, "$name - bench/wakeup.mjs ran") or return diag($WakeErr);
    my ($c, $s) = @{$Wake}{qw(client server)};
    ok(ref $s eq 'HASH' && !$s->{error}, "$name - nginx's access log read") or return diag(JSON::PP::encode_json($s // {}));
    my @workers = sort keys %{ $Wake->{workers} };
    is(scalar @workers, 2, "$name - both workers answered (@workers: "
       . join(', ', map { $Wake->{workers}{$_} } @workers) . ')');
    ok($Wake->{requests} >= 500, "$name - several hundred requests ($Wake->{requests}: "
       . join(', ', map { "$_ $Wake->{by_kind}{$_}" } sort keys %{ $Wake->{by_kind} }) . ')');
    ok($s->{held_other} >= 20, "$name - requests held on the other worker ($s->{held_other}) and on the owner ($s->{held_owner})");
    is($Wake->{errors}, 0, "$name - no socket error") or diag(JSON::PP::encode_json($Wake->{error_kinds}));
    is($c->{answered_503} + $s->{answered_503}, 0, "$name - no held request ended by the block timeout (503)");
    is($c->{without_target}, 0, "$name - every held request answered with the part it waited for");
    is($c->{unanswered}, 0, "$name - every held request answered");
    my @codes = grep { $_ >= 500 } keys %{ $Wake->{by_status} };
    ok(!@codes, "$name - no 5xx at all (" . join(', ', map { "$_ x$Wake->{by_status}{$_}" } sort keys %{ $Wake->{by_status} }) . ')');
    my ($o, $n) = @{ $s->{latency_ms} }{qw(owner other)};
    measure('wake-up after the publish (nginx clock, 1 ms): owner p50 %s p99 %s max %s ms (%d held); '
            . 'other worker p50 %s p99 %s max %s ms (%d held)', @{$o}{qw(p50 p99 max n)}, @{$n}{qw(p50 p99 max n)});
    my ($co, $cn) = @{ $c->{latency_ms} }{qw(owner other)};
    measure('the same at the client (its own event loop included): owner p50 %s p99 %s, other p50 %s p99 %s ms',
            @{$co}{qw(p50 p99)}, @{$cn}{qw(p50 p99)});
    ok(defined $n->{p99} && $n->{p99} < $Part * 1000 / 2,
       "$name - the other worker wakes within half a part of the owner at p99 ($n->{p99} ms < "
       . $Part * 1000 / 2 . ' ms)')
        or diag(JSON::PP::encode_json($s->{late}));
}

# ---------------------------------------- 7: master_process off

sub check_single_reload {
    my ($block) = @_;
    my $name = $block->name;
    my $mark = error_log_mark();
    ok(kill('HUP', nginx_master_pid()), "$name - SIGHUP sent to nginx (master_process off)");
    ok(wait_for_log(qr/\[warn\] .*bar_hls: nginx does not accept connections after a reload with "master_process off", and its cameras stop: restart it instead/, 10, $mark),
       "$name - the warning is logged");
}

$WakePort = free_port();
$ENV{TEST_NGINX_WAKE_PORT} = $WakePort;

run_tests();

__DATA__

=== TEST 1: a reload that fails (a listen in use) while it changes window, part and segment
--- bar_cameras: A B
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_A_PORT/stream1 segment=1s part=200ms window=4 bitrate=1m;
bar_hls_camera bob rtsp://127.0.0.1:$TEST_NGINX_B_PORT/stream1 segment=1s part=off window=3 bitrate=1m;
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
main::failed_reload();
--- request
GET /live/ale/index.m3u8
--- bar_check: failed_reload
--- error_log
[emerg]
still could not bind()



=== TEST 2: 20 reloads that change segment, part and window while the zone is full
--- bar_cameras: Z1 Z2 Z3
--- bar_check_ignore: live-duration targetduration-changed part-duration-min part-duration-max
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 1m;
bar_hls_camera z1 rtsp://127.0.0.1:$TEST_NGINX_Z1_PORT/stream1 segment=1s part=200ms window=3 bitrate=10k;
bar_hls_camera z2 rtsp://127.0.0.1:$TEST_NGINX_Z2_PORT/stream1 segment=1s part=200ms window=3 bitrate=10k;
bar_hls_camera z3 rtsp://127.0.0.1:$TEST_NGINX_Z3_PORT/stream1 segment=1s part=200ms window=3 bitrate=10k;
--- config
location /live/ {
    bar_hls;
}
--- init
main::full_reloads();
--- request
GET /live/z1/index.m3u8
--- bar_check: full_reloads



=== TEST 3: 300 camera names over 20 reloads: every reload succeeds, every new camera streams
--- bar_cameras: N1 N2
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera base rtsp://127.0.0.1:$TEST_NGINX_N1_PORT/stream1 segment=500ms window=2 bitrate=500k;
--- config
location /live/ {
    bar_hls;
}
--- init
main::names_reloads();
--- request
GET /live/base/index.m3u8
--- bar_check: names



=== TEST 4: a reload the master takes 2 s to load, over a collection: the camera it adds streams
--- bar_cameras: N1 N2
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 64m;
bar_hls_camera base rtsp://127.0.0.1:$TEST_NGINX_N1_PORT/stream1 segment=500ms window=2 bitrate=500k;
--- config
location /live/ {
    bar_hls;
}
--- init
main::slow_reload();
--- request
GET /live/late/index.m3u8
--- bar_check: slow_reload
--- error_log
[emerg]
try again to bind() after 500ms



=== TEST 5: a reload that resizes the zone is refused, the camera never sees two sessions
--- bar_cameras: S
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 32m;
bar_hls_camera solo rtsp://127.0.0.1:$TEST_NGINX_S_PORT/stream1 segment=1s bitrate=1m;
--- config
location /live/ {
    bar_hls;
}
--- init
main::resize_reload();
--- request
GET /live/solo/index.m3u8
--- bar_check: resize
--- error_log
[emerg]
restart nginx to resize it



=== TEST 6: held requests on both workers while other requests keep arriving: woken at once
--- bar_cameras: W
--- skip_eval: 1: !-x '/usr/bin/node'
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 32m;
bar_hls_camera cam rtsp://127.0.0.1:$TEST_NGINX_W_PORT/stream1 segment=2s part=500ms;
bar_hls_block_timeout 8s;
log_format wake '$msec $pid $request_time $status $request_uri';
server {
    listen 127.0.0.1:$TEST_NGINX_WAKE_PORT reuseport;
    access_log logs/wake.log wake;
    location /live/ {
        bar_hls;
        add_header X-Worker $pid always;
    }
}
--- config
location /live/ {
    bar_hls;
}
location = /live/status {
    bar_hls_status;
}
--- init
main::wakeup_load();
--- request
GET /live/cam/index.m3u8
--- bar_check: wakeups



=== TEST 7: a reload with master_process off: nginx says the cameras stop
--- bar_master_off
--- bar_cameras: A
--- main_config
load_module $TEST_NGINX_BAR_HLS_MODULE;
--- http_config
bar_hls_zone 16m;
bar_hls_camera ale rtsp://127.0.0.1:$TEST_NGINX_A_PORT/stream1 segment=1s bitrate=1m;
--- config
location /live/ {
    bar_hls;
}
--- init
BarHls::Test::wait_playlist_ok('/live/ale/index.m3u8', 1, 20);
--- request
GET /live/ale/index.m3u8
--- bar_check: single_reload
--- error_log
bar_hls: nginx does not accept connections after a reload
