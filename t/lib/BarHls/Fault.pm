package BarHls::Fault;

# Fault injection and measurement helpers for the resilience and
# Low-Latency HLS tests (t/020-*.t to t/039-*.t), on top of BarHls::Test.
#
#     use lib 't/lib';
#     use BarHls::Test;
#     use BarHls::Fault;
#     use Test::Nginx::Socket 'no_plan';
#
# - start_bad_server(mode => 'silent'|'http400'|'garbage', env => VAR):
#   t/tools/bad-server on a free 127.0.0.1 port, stopped (by its PID) in
#   END; bad_server_accepts() are the times it accepted connections.
# - restart_camera($cam, %changes): the camera again on its port, without
#   start_camera()'s probe (which races with nginx reconnecting).
# - status_json(): /live/status decoded; camera_status(NAME).
# - start_poller(...) / stop_poller(): a child process that GETs URLs
#   at a fixed interval and records every answer (for reload / kill tests).
# - parallel_get(): many GETs at once (blocking requests), timed.
# - parse_ll(): the Low-Latency HLS tags of a playlist.
# - worker_pids(): the nginx master's children, from /proc.
# - max_sessions(): the most RTSP connections seen at once, from the
#   kernel, on the camera's side and on nginx's side.
# - measure(): a "# measure: ..." TAP diagnostic, also appended to
#   $ENV{BAR_HLS_MEASURE_LOG} when set.
#
# Like BarHls::Test: 127.0.0.1 only, every wait bounded, only processes
# started here are signalled (by PID), children die with the test process
# (PR_SET_PDEATHSIG) and leave through POSIX::_exit (no END blocks: they
# must not stop nginx or the cameras).

use strict;
use warnings;

use Config ();
use Exporter 'import';
use File::Spec ();
use File::Temp ();
use HTTP::Tiny ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX qw(WNOHANG);
use Test::More ();
use Time::HiRes qw(sleep time);

use BarHls::Test ();

our @EXPORT = qw(
    start_bad_server stop_bad_server bad_server_accepts restart_camera
    status_json camera_status wait_status
    start_poller stop_poller parallel_get
    parse_ll worker_pids process_alive measure closed_port
    client_established max_sessions
    log_lines_since count_log
    remember_segment same_segment_ok
);

my $Tmp;
my @Children;       # { pid => N, ... } started here, stopped in END
my $Pid = $$;

sub tmp_dir {
    $Tmp //= File::Temp::tempdir('bar-hls-fault-XXXXXX', TMPDIR => 1,
                                 CLEANUP => !$ENV{BAR_HLS_TEST_KEEP});
    return $Tmp;
}

# forks; the child gets SIGTERM should we die without END
sub spawn {
    my ($code) = @_;
    my $pid = fork;
    die "BarHls::Fault: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        my $prctl = $Config::Config{archname} =~ /^x86_64-linux/ ? 157
                  : $Config::Config{archname} =~ /^aarch64-linux/ ? 167 : undef;
        syscall($prctl, 1, 15) if defined $prctl;
        $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
        $code->();
        POSIX::_exit(0);
    }
    return $pid;
}

sub reap {
    my ($pid, $secs) = @_;
    return 1 if BarHls::Test::wait_until($secs, 0.05, sub { waitpid($pid, WNOHANG) == $pid });
    kill 'KILL', $pid;
    waitpid $pid, 0;
    return 0;
}

# ---------------------------------------------------------- bad servers

# A TCP port on 127.0.0.1 nobody listens on (connection refused).
sub closed_port { BarHls::Test::free_port() }

my $BadServers = 0;

sub start_bad_server {
    my (%o) = @_;
    my $port = $o{port} // BarHls::Test::free_port();
    # a directory (and accept log) of its own, also for a server started
    # again on the same port
    my $dir = File::Spec->catdir(tmp_dir(), "bad-$o{mode}-$port-" . ++$BadServers);
    mkdir $dir;
    my %s = (port => $port, mode => $o{mode}, pidfile => "$dir/pid",
             log => "$dir/accepts.log");
    my @cmd = (BarHls::Test::repo_root() . '/t/tools/bad-server',
               '--port', $port, '--mode', $o{mode},
               '--pidfile', $s{pidfile}, '--log', $s{log});
    $s{pid} = spawn(sub {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/stderr.log";
        open STDERR, '>&', \*STDOUT;
        { exec @cmd };
        print STDERR "exec @cmd: $!\n";
        POSIX::_exit(127);
    });
    push @Children, \%s;
    my $up = BarHls::Test::wait_until(5, 0.05, sub {
        return -1 if waitpid($s{pid}, WNOHANG) == $s{pid};
        return -s $s{pidfile} ? 1 : 0;
    });
    die "BarHls::Fault: bad-server ($o{mode}) on port $port did not start\n"
        unless $up && $up > 0;
    $ENV{$o{env}} = $port if $o{env};
    return \%s;
}

sub stop_bad_server {
    my ($s) = @_;
    my $pid = delete $s->{pid} or return;
    kill 'TERM', $pid;
    reap($pid, 5);
    @Children = grep { $_ != $s } @Children;
}

# the times (epoch seconds) the server accepted a connection
sub bad_server_accepts {
    my ($s) = @_;
    open my $fh, '<', $s->{log} or return ();
    return map { /^accept (\S+)/ ? $1 : () } <$fh>;
}

# ------------------------------------------------------- camera restart

# restart_camera($cam, %changes): a fake camera again on the port of
# $cam (stopped before with stop_camera), with its options but %changes.
# Unlike start_camera(), it returns as soon as the camera listens and
# makes no probe connection: nginx, retrying, may connect at once.  The
# result works with stop_camera, pause_camera, camera_stats.
my $Restarts = 0;

sub restart_camera {
    my ($old, %change) = @_;
    my %o = (%{ $old->{opts} || {} }, %change);
    delete @o{qw(env port wait)};
    my $port = $old->{port};
    my $dir = File::Spec->catdir(tmp_dir(), 'restart-' . ++$Restarts . "-$port");
    mkdir $dir;
    my %cam = (port => $port, dir => $dir, pidfile => "$dir/pid", stats => "$dir/stats",
               log => "$dir/camera.log", opts => \%o, probes => 0);
    my @cmd = BarHls::Test::camera_command(\%cam, %o);
    $cam{pid} = spawn(sub {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $cam{log};
        open STDERR, '>&', \*STDOUT;
        { exec @cmd };
        print STDERR "exec @cmd: $!\n";
        POSIX::_exit(127);
    });
    push @Children, \%cam;
    my $up = BarHls::Test::wait_until(10, 0.05, sub {
        return -1 if waitpid($cam{pid}, WNOHANG) == $cam{pid};
        return -s $cam{pidfile} ? 1 : 0;
    });
    if (!$up || $up < 0) {
        my $log = BarHls::Test::slurp($cam{log}) // '';
        BarHls::Test::stop_camera(\%cam);
        die "BarHls::Fault: fake camera on port $port did not come back:\n$log";
    }
    return \%cam;
}

# --------------------------------------------------------------- status

sub status_json {
    my (%o) = @_;
    my $res = BarHls::Test::http_get($o{path} // '/live/status', port => $o{port});
    return unless $res->{status} == 200;
    return eval { JSON::PP::decode_json($res->{content}) };
}

sub camera_status {
    my ($name, %o) = @_;
    my $st = status_json(%o) or return;
    return $st->{cameras}{$name};
}

# Polls /live/status until $cond->(camera status) is true; returns that
# status or undef after $secs.
sub wait_status {
    my ($name, $secs, $cond, %o) = @_;
    return BarHls::Test::wait_until($secs, 0.1, sub {
        my $c = camera_status($name, %o) or return;
        return $cond->($c) ? $c : undef;
    });
}

# ---------------------------------------------------------------- poller

# start_poller(paths => [...], interval => 0.2, secs => 60, port => N)
# GETs every path once per interval (a new connection each time, 5 s
# timeout) until stop_poller() or secs.  Returns a handle.
sub start_poller {
    my (%o) = @_;
    my $file = File::Spec->catfile(tmp_dir(), "poll-" . scalar(@Children) . "-$$.log");
    my $interval = $o{interval} // 0.2;
    my $secs = $o{secs} // 60;
    my @paths = @{ $o{paths} };
    my $port = $o{port};
    my $pid = spawn(sub {
        open my $out, '>', $file or POSIX::_exit(1);
        $out->autoflush(1);
        my $stop = 0;
        $SIG{TERM} = sub { $stop = 1 };
        my $http = HTTP::Tiny->new(timeout => 5, keep_alive => 0, proxy => undef,
                                   http_proxy => undef, agent => 'bar-hls-poller/1');
        my $end = time + $secs;
        my $next = time;
        for (my $i = 0; $i < 100_000 && !$stop && time < $end; $i++) {
            for my $path (@paths) {
                my $t0 = time;
                my $res = $http->get(BarHls::Test::nginx_url($path, $port));
                my $body = $res->{content} // '';
                my ($seq) = $body =~ /^#EXT-X-MEDIA-SEQUENCE:(\d+)$/m;
                my @msn = $body =~ /^seg-(\d+)\.m4s$/mg;
                my $why = $res->{status} == 599 ? $body : '';
                $why =~ s/\s+/ /g;
                printf $out "%.3f %.3f %s %d %s %s %s\n", $t0, time - $t0, $path,
                       $res->{status}, $seq // '-', @msn ? $msn[-1] : '-',
                       substr($why, 0, 200);
            }
            $next += $interval;
            my $d = $next - time;
            sleep $d if $d > 0;
            $next = time if $d < -$interval;
        }
        close $out;
    });
    my $p = { pid => $pid, file => $file, poller => 1 };
    push @Children, $p;
    return $p;
}

# Stops the poller; returns its records:
# [{ t, took, path, status, seq, last, why }]
sub stop_poller {
    my ($p) = @_;
    if (my $pid = delete $p->{pid}) {
        kill 'TERM', $pid;
        reap($pid, 10);
        @Children = grep { $_ != $p } @Children;
    }
    open my $fh, '<', $p->{file} or return [];
    my @r;
    while (my $line = <$fh>) {
        chomp $line;
        my ($t, $took, $path, $status, $seq, $last, $why) = split / /, $line, 7;
        push @r, { t => $t, took => $took, path => $path, status => $status,
                   seq => $seq eq '-' ? undef : $seq,
                   last => $last eq '-' ? undef : $last, why => $why };
    }
    return \@r;
}

# ------------------------------------------------------ parallel GETs

# parallel_get([path or [path, port], ...], timeout => 20)
# Sends every GET at once (one connection each, "Connection: close") and
# waits for all the answers.  Returns [{ path, status, headers => {lc
# name => value}, body, took (s, from the send), error }] in order.
sub parallel_get {
    my ($reqs, %o) = @_;
    my $timeout = $o{timeout} // 20;
    my $sel = IO::Select->new;
    my (@res, %by);
    my $t0 = time;
    for my $i (0 .. $#$reqs) {
        my ($path, $port) = ref $reqs->[$i] ? @{ $reqs->[$i] } : ($reqs->[$i]);
        $port //= BarHls::Test::nginx_port();
        my %r = (path => $path, port => $port, raw => '');
        push @res, \%r;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                      Proto => 'tcp', Timeout => 5);
        if (!$s) {
            $r{error} = "connect: $!";
            next;
        }
        $s->autoflush(1);
        print $s "GET $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
               . "User-Agent: bar-hls-test/1\r\n\r\n";
        $r{sent} = time;
        $sel->add($s);
        $by{ fileno $s } = [\%r, $s];
    }
    my $end = time + $timeout;
    while ($sel->count && time < $end) {
        for my $s ($sel->can_read(0.05)) {
            my ($r) = @{ $by{ fileno $s } };
            my $n = sysread $s, my $buf, 65536;
            if ($n) {
                $r->{raw} .= $buf;
                next;
            }
            $r->{took} = time - $r->{sent};
            $r->{error} = "read: $!" unless defined $n;
            $sel->remove($s);
            close $s;
        }
    }
    for my $s ($sel->handles) {
        my ($r) = @{ $by{ fileno $s } };
        $r->{error} = "no answer within ${timeout}s";
        $sel->remove($s);
        close $s;
    }
    for my $r (@res) {
        my ($head, $body) = split /\r\n\r\n/, delete $r->{raw}, 2;
        $head //= '';
        ($r->{status}) = $head =~ m{\AHTTP/1\.[01] (\d{3})};
        $r->{status} //= 599;
        my %h;
        for (split /\r\n/, $head) {
            $h{ lc $1 } = $2 if /^([^:]+):\s*(.*)$/;
        }
        $r->{headers} = \%h;
        $r->{body} = $body // '';
        BarHls::Checker::test_response(BarHls::Test::nginx_url($r->{path}, $r->{port}),
                                       $r->{status}, $r->{body}, stateless => 1);
    }
    return \@res;
}

# ------------------------------------------------------------ LL-HLS

# {
#   version, target, sequence, skipped, part_target, server_control =>
#   {attr => value}, hint => {type, uri, number, msn, part},
#   segments => [{ msn, duration, discontinuity, map, parts => [...] }]
#     (complete ones; uri seg-<msn>.m4s),
#   open => { msn, parts => [...] } or undef (parts after the last EXTINF),
#   parts: { number, msn, n, uri, duration, independent }
# }
# Parts are part-<number>.m4s, numbered for the whole stream; msn and n
# (the part's segment and its index there) come from where it is listed.
# The hint's msn and part are those of the part it names: the open
# segment's next, or the first of the segment after the last one.
sub parse_ll {
    my ($text) = @_;
    return unless defined $text && $text =~ /\A#EXTM3U\n/;
    my %pl = (segments => [], server_control => {});
    my @parts;
    my %next;
    for my $line (split /\n/, $text) {
        if ($line =~ /^#EXT-X-VERSION:(\d+)$/) { $pl{version} = $1 }
        elsif ($line =~ /^#EXT-X-TARGETDURATION:(\d+)$/) { $pl{target} = $1 }
        elsif ($line =~ /^#EXT-X-MEDIA-SEQUENCE:(\d+)$/) { $pl{sequence} = $1 }
        elsif ($line =~ /^#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)$/) { $pl{disc_sequence} = $1 }
        elsif ($line =~ /^#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)$/) { $pl{skipped} = $1 }
        elsif ($line =~ /^#EXT-X-PART-INF:PART-TARGET=([\d.]+)$/) { $pl{part_target} = $1 }
        elsif ($line =~ /^#EXT-X-SERVER-CONTROL:(.*)$/) {
            $pl{server_control_text} = $1;
            $pl{server_control} = { map { split /=/, $_, 2 } split /,/, $1 };
        }
        elsif ($line eq '#EXT-X-DISCONTINUITY') { $next{discontinuity} = 1 }
        elsif ($line =~ /^#EXT-X-MAP:URI="([^"]+)"$/) { $pl{map} = $1 }
        elsif ($line =~ /^#EXT-X-PART:(.*)$/) {
            my %a = map { split /=/, $_, 2 } split /,/, $1;
            (my $uri = $a{URI} // '') =~ s/"//g;
            my ($number) = $uri =~ /^part-(\d+)\.(?:m4s|ts)$/;
            push @parts, { uri => $uri, number => $number, n => scalar @parts,
                           duration => $a{DURATION},
                           independent => ($a{INDEPENDENT} // '') eq 'YES',
                           attrs => \%a };
            $pl{nparts_lines}++;
        }
        elsif ($line =~ /^#EXT-X-PRELOAD-HINT:(.*)$/) {
            my %a = map { split /=/, $_, 2 } split /,/, $1;
            (my $uri = $a{URI} // '') =~ s/"//g;
            my ($number) = $uri =~ /^part-(\d+)\.(?:m4s|ts)$/;
            $pl{hint} = { type => $a{TYPE}, uri => $uri, number => $number };
            $pl{nhints}++;
        }
        elsif ($line =~ /^#EXTINF:([\d.]+),$/) { $next{duration} = $1 }
        elsif ($line =~ /^#EXT-X-PROGRAM-DATE-TIME:(.+)$/) { $next{pdt} = BarHls::Test::parse_pdt($1) }
        elsif ($line =~ /^seg-(\d+)\.(?:m4s|ts)$/) {
            my $msn = $1;
            $_->{msn} = $msn for @parts;
            push @{ $pl{segments} }, { %next, msn => $msn, uri => $line,
                                       map => $pl{map}, parts => [@parts] };
            %next = ();
            @parts = ();
        }
    }
    my $last = @{ $pl{segments} } ? $pl{segments}[-1]{msn} : undef;
    my $open_msn = defined $last ? $last + 1 : $pl{sequence};
    $_->{msn} = $open_msn for @parts;
    $pl{open} = @parts || $next{discontinuity}
              ? { msn => $open_msn, parts => [@parts],
                  discontinuity => $next{discontinuity}, map => $pl{map} }
              : undef;
    if ($pl{hint}) {
        $pl{hint}{msn} = $open_msn;
        $pl{hint}{part} = scalar @parts;
    }
    return \%pl;
}

# ---------------------------------------------------------- processes

# The nginx master's child processes (its workers, also the old ones
# still shutting down after a reload), from /proc.
sub worker_pids {
    my $master = BarHls::Test::nginx_master_pid() or return ();
    my @pids;
    opendir my $dh, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $dh) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh> // '';
        # pid (comm) state ppid ...
        my ($ppid) = $stat =~ /\)\s+\S+\s+(\d+)/ or next;
        push @pids, $pid if $ppid == $master;
    }
    return sort { $a <=> $b } @pids;
}

# ESTABLISHED TCP connections to 127.0.0.1:$port from its clients' side
# (remote port $port): the sessions nginx holds.  Unlike the camera's side
# (BarHls::Test::tcp_established), it drops the moment the client's socket
# is closed, also when the client process is killed.
sub client_established {
    my ($port) = @_;
    my %seen = %{ BarHls::Test::tcp_connections($port, 'remote') };
    return scalar keys %seen unless wantarray;
    # in list context the connections: "local remote (pid)", in /proc's hex
    my %pid = socket_owners(values %seen);
    return map { "$_ (pid " . ($pid{ $seen{$_} } // '?') . ')' } sort keys %seen;
}

# socket inode => the pid holding it, for these inodes
sub socket_owners {
    my %want = map { $_ => 1 } @_;
    my %pid;
    opendir my $dh, '/proc' or return;
    for my $p (grep { /^\d+$/ } readdir $dh) {
        opendir my $fds, "/proc/$p/fd" or next;
        for my $fd (readdir $fds) {
            my $l = readlink "/proc/$p/fd/$fd" // next;
            $pid{$1} = $p if $l =~ /^socket:\[(\d+)\]$/ && $want{$1};
        }
    }
    return %pid;
}

# max_sessions([ports], $secs, $until): like BarHls::Test::max_established
# (every 10 ms, for $secs or until $until->() then one more second), for
# both sides: { port => { camera => most ESTABLISHED on the camera's side,
# client => most on nginx's side, client_seen => those connections } }
sub max_sessions {
    my ($ports, $secs, $until) = @_;
    my %max = map { $_ => { camera => 0, client => 0 } } @$ports;
    my ($deadline, $stop) = (time + $secs);
    for (my $i = 0; $i < 100_000 && time < $deadline; $i++) {
        for my $port (@$ports) {
            my $s = BarHls::Test::tcp_established($port);
            my $c = client_established($port);
            $max{$port}{camera} = $s if $s > $max{$port}{camera};
            if ($c > $max{$port}{client}) {
                # who holds them (read again: a moment later)
                $max{$port}{client} = $c;
                $max{$port}{client_seen} = join ', ', client_established($port);
            }
        }
        if (!$stop && $until && $until->()) {
            $stop = time + 1;
            $deadline = $stop if $stop < $deadline;
        }
        sleep 0.01;
    }
    return \%max;
}

# not gone and not a zombie
sub process_alive {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh> // '';
    my ($state) = $stat =~ /\)\s+(\S+)/;
    return defined $state && $state ne 'Z' && $state ne 'X';
}

# ------------------------------------------------------------ reloads

# The newest segment $dir/index.m3u8 lists, fetched: { uri, md5, msn,
# status }.  Sequence numbers start from the clock, so a sequence that
# "went on" after a reload proves nothing about the zone: a segment
# published before and served after the reload, byte for byte, does.
sub remember_segment {
    my ($dir) = @_;
    my $pl = BarHls::Test::parse_playlist(BarHls::Test::http_get("$dir/index.m3u8")->{content});
    my $seg = $pl && $pl->{segments}[-1] or return { status => 'no segment listed' };
    my $res = BarHls::Test::http_get("$dir/$seg->{uri}");
    return { uri => "$dir/$seg->{uri}", msn => $seg->{msn}, status => $res->{status},
             md5 => BarHls::Test::md5_hex($res->{content}), size => length($res->{content} // '') };
}

# The segment remember_segment() fetched: again 200 and the same bytes.
sub same_segment_ok {
    my ($name, $old) = @_;
    Test::More::ok($old->{uri} && $old->{status} == 200, "$name - a segment fetched before: "
                   . ($old->{uri} // $old->{status})) or return;
    my $res = BarHls::Test::http_get($old->{uri});
    my $md5 = BarHls::Test::md5_hex($res->{content});
    Test::More::ok($res->{status} == 200 && $md5 eq $old->{md5},
                   "$name - $old->{uri} from before: 200, the same $old->{size} bytes (got $res->{status}, "
                   . length($res->{content} // '') . ' bytes)');
}

# ------------------------------------------------------------- logs

# error.log lines after line $mark
sub log_lines_since {
    my ($mark) = @_;
    my @l = BarHls::Test::error_log_lines();
    splice @l, 0, $mark if $mark;
    return @l;
}

sub count_log {
    my ($re, $mark) = @_;
    return scalar grep { $_ =~ $re } log_lines_since($mark);
}

# ------------------------------------------------------------ reports

sub measure {
    my ($fmt, @args) = @_;
    my $text = sprintf $fmt, @args;
    Test::More::diag("measure: $text");
    if (my $file = $ENV{BAR_HLS_MEASURE_LOG}) {
        if (open my $fh, '>>', $file) {
            print $fh "$0: $text\n";
            close $fh;
        }
    }
}

END {
    return unless $$ == $Pid;
    my $status = $?;
    for my $c (reverse @Children) {
        my $pid = delete $c->{pid} or next;
        kill 'TERM', $pid;
        reap($pid, 5);
    }
    $? = $status;
}

1;
