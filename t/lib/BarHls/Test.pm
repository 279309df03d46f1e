package BarHls::Test;

# Helpers for the end-to-end tests in t/*.t: fake cameras, free ports,
# HTTP polling, ffprobe/ffmpeg, MP4 box parsing and the error log.
#
# Load it BEFORE Test::Nginx::Socket (which reads the TEST_NGINX_*
# variables when it is compiled):
#
#     use lib 't/lib';
#     use BarHls::Test;
#     use Test::Nginx::Socket 'no_plan';
#
# Plain Perl, works with the upstream Test::Nginx and with t/compat.  On
# load it
#   - exports TEST_NGINX_BAR_HLS_MODULE (default <repo>/build/
#     ngx_bar_hls_module.so) so that main_config can say
#     "load_module $TEST_NGINX_BAR_HLS_MODULE;";
#   - defaults TEST_NGINX_BINARY to /usr/sbin/nginx;
#   - makes nginx listen on 127.0.0.1 only: when TEST_NGINX_SERVER_PORT is
#     unset it picks a free port, when it is a bare number it becomes
#     127.0.0.1:N (upstream Test::Nginx would otherwise bind 0.0.0.0).
#
# Everything here talks to 127.0.0.1 only, every wait is bounded in time,
# and only processes this module started (by PID) are ever signalled,
# also from its END block.  The cameras' files (stats, log) live in a
# temporary directory, removed at exit unless BAR_HLS_TEST_KEEP=1.

use strict;
use warnings;

BEGIN {
    die "BarHls::Test must be loaded before Test::Nginx::Socket\n"
        if $INC{'Test/Nginx/Util.pm'};
}

use Config ();
use Cwd ();
use Digest::MD5 ();
use Exporter 'import';
use Fcntl ();
use File::Basename ();
use File::Path ();
use File::Spec ();
use File::Temp ();
use HTTP::Tiny ();
use IO::Socket::INET ();
use IPC::Run ();
use JSON::PP ();
use POSIX qw(WNOHANG);
use Test::More ();
use Time::HiRes qw(sleep time);

use BarHls::Checker ();     # every playlist fetched is checked (the hook)

our @EXPORT = qw(
    $PASSWORD repo_root module_path free_port
    start_camera stop_camera pause_camera resume_camera camera_stats
    camera_on_port camera_command
    nginx_port nginx_url http_get wait_until wait_for_playlist
    wait_playlist_ok wait_sequence_ok parse_playlist playlist_msns
    check_playlist ffprobe_streams probe_segment
    ffmpeg_decode mp4_boxes box_types md5_hex error_log_path
    error_log_lines error_log_mark wait_for_log tcp_established
    max_established nginx_master_pid default_log_checks
    check_body require_tools exclusive_cpu
);

# The fake cameras' password: no error.log may ever contain it.
our $PASSWORD = 's3cr3t-pw';

our $Root = Cwd::abs_path(
    File::Spec->catdir(File::Basename::dirname(__FILE__), '..', '..', '..'));

our $LastStatus = '';       # what the last wait_for_playlist() saw

# How far (seconds) the step between consecutive PROGRAM-DATE-TIMEs may be
# from the EXTINF before it: the media clock moves towards the earliest
# arrivals by sub-second steps (bh_timeline.c).  Not tighter: the first
# segment of an RTSP session is stamped late by the time libavformat
# spends probing (~0.3 s).
our $PdtTolerance = 0.5;

# How far (seconds) the PDTs of a run of segments may stray from their
# EXTINFs when no recorder tells when the camera sent them: a camera
# under load was seen 4 s behind its own time stamps before catching up.
our $PdtDrift = 5;

# Scratch space shared by --- init code and body checks of a test file.
our %Stash;

my $Tmp;                    # our private temp dir (cameras' files)
my @Cameras;                # started by us, stopped in END
my %ByPort;                 # port => camera, for camera_on_port()

# scripts/fake-camera's options with a value, and its flags
our @CameraOptions = qw(path audio auth user password codec size fps gop
                        transport tls_cert tls_key
                        bframes profile resize_after resize_to);
our @CameraFlags = qw(sliced no_sprop sync_marks);
my %UsedPorts;
my $Http = HTTP::Tiny->new(
    timeout    => 5,
    keep_alive => 0,        # a new connection per request
    proxy      => undef,
    http_proxy => undef,
    agent      => 'bar-hls-test/1',
);

# ---------------------------------------------------------------- setup

$ENV{TEST_NGINX_BAR_HLS_MODULE} ||= "$Root/build/ngx_bar_hls_module.so";
die "BarHls::Test: no module at $ENV{TEST_NGINX_BAR_HLS_MODULE}; run make\n"
    unless -f $ENV{TEST_NGINX_BAR_HLS_MODULE};

$ENV{TEST_NGINX_BINARY} ||= '/usr/sbin/nginx' if -x '/usr/sbin/nginx';

{
    my $sp = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT};
    if (!$sp) {
        my $port = free_port();
        $ENV{TEST_NGINX_SERVER_PORT} = "127.0.0.1:$port";
        $ENV{TEST_NGINX_CLIENT_PORT} = $port;
    } elsif ($sp =~ /^\d+$/) {
        $ENV{TEST_NGINX_SERVER_PORT} = "127.0.0.1:$sp";
        $ENV{TEST_NGINX_CLIENT_PORT} ||= $sp;
    } elsif ($sp !~ /^127\.0\.0\.1:\d+$/) {
        die "BarHls::Test: TEST_NGINX_SERVER_PORT=$sp: use 127.0.0.1:PORT\n";
    }
    $ENV{TEST_NGINX_CLIENT_PORT} ||= ($sp // '') =~ /(\d+)$/ ? $1 : '';
}

# Stop our cameras if a signal ends the run (END blocks then run).
for my $sig (qw(INT TERM HUP)) {
    next if $SIG{$sig} && $SIG{$sig} ne 'DEFAULT';
    $SIG{$sig} = sub { print STDERR "Caught SIG$sig\n"; exit 1 };
}

# require_tools([label, path or code returning true when present], ...):
# plans skip_all with a loud reason when one is missing, or, with
# CI=true, fails the file instead: in CI every tool scripts/setup
# installs must be there.  Call it before anything else is tested.
sub require_tools {
    my @missing = grep { ref $_->[1] ? !$_->[1]->() : !-e $_->[1] } @_;
    return 1 unless @missing;
    my $what = join ', ', map { $_->[0] } @missing;
    if (($ENV{CI} // '') eq 'true') {
        Test::More::plan(tests => 1);
        Test::More::fail("CI=true: required tools missing: $what (scripts/setup installs them)");
        exit 1;
    }
    Test::More::plan(skip_all => "SKIPPED, missing: $what (scripts/setup installs them)");
}

# exclusive_cpu($name): for the rest of this test file, the only file of
# any test run on this machine that holds the lock $name: an flock on
# $TMPDIR/bar-hls-$name.lock, released when the process ends.  `.ci/run`
# runs `make test` and `make test-asan` at once; the files whose checks
# are about smooth play on a page set (t/016) take it, so that the two
# runs' pages of Chromium players never compete for the 2 cores.
# Returns the seconds it waited (printed when it waited at all).
my %Locks;
sub exclusive_cpu {
    my ($name) = @_;
    return 0 if $Locks{$name};
    my $path = File::Spec->catfile(File::Spec->tmpdir, "bar-hls-$name.lock");
    open my $fh, '>>', $path or die "BarHls::Test: $path: $!\n";
    my $t0 = Time::HiRes::time();
    unless (flock $fh, Fcntl::LOCK_EX() | Fcntl::LOCK_NB()) {
        # bounded: t/016 takes about 6 minutes
        Test::More::diag("waiting for $path (another test run holds it)");
        until (flock $fh, Fcntl::LOCK_EX() | Fcntl::LOCK_NB()) {
            die "BarHls::Test: $path still held after 1200 s\n" if Time::HiRes::time() - $t0 > 1200;
            sleep 0.5;
        }
    }
    my $waited = Time::HiRes::time() - $t0;
    Test::More::diag(sprintf 'held %s after %.1f s', $path, $waited) if $waited >= 0.1;
    $Locks{$name} = $fh;
    return $waited;
}

sub repo_root   { $Root }
sub module_path { $ENV{TEST_NGINX_BAR_HLS_MODULE} }

sub tmp_dir {
    $Tmp //= File::Temp::tempdir('bar-hls-test-XXXXXX', TMPDIR => 1);
    return $Tmp;
}

# A TCP port that nobody listens on at 127.0.0.1 right now (the kernel's
# pick), never handed out twice by this process.
sub free_port {
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => 0,
            Proto     => 'tcp',
            Listen    => 1,
        ) or die "BarHls::Test: cannot bind 127.0.0.1: $!\n";
        my $port = $s->sockport;
        close $s;
        next if $UsedPorts{$port}++;
        return $port;
    }
    die "BarHls::Test: no free port found\n";
}

# ------------------------------------------------------------- cameras

# start_camera(port => N, env => 'TEST_NGINX_CAM_PORT', audio => 'aac',
#              auth => 'digest', user => 'admin', password => ...,
#              codec => 'h264', size => '640x360', fps => 25, gop => 25,
#              sliced => 1, path => '/stream1', transport => 'tcp+udp',
#              tls_cert => FILE, tls_key => FILE, record => 1, wait => 5,
#              bframes => 2, profile => 'high', no_sprop => 1,
#              resize_after => 5, resize_to => '320x180', sync_marks => 1)
# Starts scripts/fake-camera on 127.0.0.1 (a free port unless given) and
# returns once the port accepts connections.  With env, the port is also
# put in $ENV{...} for the nginx.conf sections.  With record, a recorder
# notes every frame the camera sends (BarHls::Timing).
sub start_camera {
    my (%o) = @_;
    my $port = $o{port} // free_port();
    my $n = @Cameras;
    my $dir = File::Spec->catdir(tmp_dir(), "cam$n-$port");
    File::Path::make_path($dir);

    my %cam = (
        port    => $port,
        dir     => $dir,
        pidfile => "$dir/pid",
        stats   => "$dir/stats",
        log     => "$dir/camera.log",
        opts    => {%o},
    );
    my @cmd = camera_command(\%cam, %o);
    unlink $cam{pidfile}, $cam{stats};
    my $pid = fork;
    die "BarHls::Test: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        die_with_parent();
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $cam{log};
        open STDERR, '>&', \*STDOUT;
        { exec @cmd };
        print STDERR "exec @cmd: $!\n";
        POSIX::_exit(127);
    }
    $cam{pid} = $pid;
    push @Cameras, \%cam;

    # It writes the pidfile once it listens; then one connection proves
    # the port accepts.  camera_stats() leaves that probe out of "total",
    # and we wait for the camera to see it closed, so that it cannot
    # overlap with nginx's session in "max".
    my $wait = $o{wait} // 5;
    my $up = wait_until($wait, 0.05, sub {
        return -1 if waitpid($pid, WNOHANG) == $pid;
        return 0 unless -s $cam{pidfile};
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp',
                                      Timeout => 0.5) or return 0;
        $cam{probes}++;
        close $s;
        return 1;
    });
    # the probe is over when the camera saw it closed; nginx, retrying a
    # camera restarted on its port, may already hold a session by then
    if ($up && $up > 0) {
        $up = wait_until($wait, 0.05, sub {
            my $s = camera_stats(\%cam);
            my $others = ($s->{raw_total} // 0) - $cam{probes};
            return defined $s->{current} && $others >= 0
                   && $s->{current} <= $others;
        }) ? 1 : -2;
    }
    if (!$up || $up < 0) {
        my $log = slurp($cam{log}) // '';
        my $why = !$up ? "did not listen within ${wait}s"
                : $up == -1 ? 'exited' : "did not settle within ${wait}s";
        stop_camera(\%cam);
        die "BarHls::Test: fake camera on port $port $why:\n$log";
    }
    if ($o{record}) {
        require BarHls::Timing;
        BarHls::Timing::start_recorder(\%cam);
    }
    $ENV{$o{env}} = $port if $o{env};
    $ByPort{$port} = \%cam;
    return \%cam;
}

# The command line of scripts/fake-camera for start_camera()'s options
# (and restart_camera()'s in BarHls::Fault): every option of the camera
# script that a test may set is passed through here.
sub camera_command {
    my ($cam, %o) = @_;
    my @cmd = ("$Root/scripts/fake-camera", '--port', $cam->{port},
               '--pidfile', $cam->{pidfile}, '--stats', $cam->{stats});
    for my $opt (@CameraOptions) {
        (my $arg = "--$opt") =~ tr/_/-/;
        push @cmd, $arg, $o{$opt} if defined $o{$opt};
    }
    for my $flag (@CameraFlags) {
        (my $arg = "--$flag") =~ tr/_/-/;
        push @cmd, $arg if $o{$flag};
    }
    return @cmd;
}

# The camera start_camera() started on $port (the value of an env var
# given to start_camera(env => ...) works too).
sub camera_on_port {
    my ($port) = @_;
    $port = $ENV{$port} if defined $port && $port =~ /^[A-Z_]\w*$/;
    return defined $port ? $ByPort{$port} : undef;
}

# Linux: the calling (child) process gets SIGTERM should its parent, this
# test process, die without running its END block.
sub die_with_parent {
    my $prctl = $Config::Config{archname} =~ /^x86_64-linux/ ? 157
              : $Config::Config{archname} =~ /^aarch64-linux/ ? 167 : undef;
    syscall($prctl, 1, 15) if defined $prctl;      # PR_SET_PDEATHSIG
}

# Sends SIGTERM (SIGKILL after 5 s) to the camera's own PID (and its
# recorder's) and reaps it.
sub stop_camera {
    my ($cam) = @_;
    BarHls::Timing::stop_recorder($cam) if $cam->{recorder};
    my $pid = delete $cam->{pid} or return;
    kill 'CONT', $pid;
    kill 'TERM', $pid;
    my $gone = wait_until(5, 0.05, sub { waitpid($pid, WNOHANG) == $pid || !kill 0, $pid });
    if (!$gone) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }
    @Cameras = grep { $_ != $cam } @Cameras;
    return 1;
}

# SIGSTOP / SIGCONT: a camera that keeps its TCP connections but goes silent.
sub pause_camera  { kill 'STOP', $_[0]{pid} if $_[0]{pid} }
sub resume_camera { kill 'CONT', $_[0]{pid} if $_[0]{pid} }

# {current => N, max => N, total => N} from the camera's --stats file:
# RTSP connections open now, the most ever open at once, and ever made
# (not counting start_camera()'s probe; raw_total does).
sub camera_stats {
    my ($cam) = @_;
    my $line = slurp($cam->{stats}) // '';
    my %s = $line =~ /(\w+)=(\d+)/g;
    if (defined $s{total}) {
        $s{raw_total} = $s{total};
        $s{total} -= $cam->{probes} // 0;
    }
    # the recorder's session is not nginx's
    if ($cam->{recorder}) {
        $s{$_} -= 1 for grep { ($s{$_} // 0) > 0 } qw(current max);
    }
    return \%s;
}

my $Pid = $$;

END {
    return unless $$ == $Pid;       # not in a forked child
    my $status = $?;
    my @cams = reverse @Cameras;
    stop_camera($_) for @cams;
    File::Path::remove_tree($Tmp) if defined $Tmp && !$ENV{BAR_HLS_TEST_KEEP};
    $? = $status;
}

# ---------------------------------------------------------------- HTTP

sub nginx_port { $ENV{TEST_NGINX_CLIENT_PORT} }

# Absolute URL on the nginx under test (or on $port) for a path.
sub nginx_url {
    my ($path, $port) = @_;
    return $path if $path =~ m{^https?://};
    $path = "/$path" unless $path =~ m{^/};
    return sprintf 'http://127.0.0.1:%d%s', $port // nginx_port(), $path;
}

# HTTP::Tiny response hashref (status, headers, content), a new
# connection each time, 5 s timeout.
sub http_get {
    my ($path, %o) = @_;
    my $method = $o{method} // 'GET';
    my $res = $Http->request($method, nginx_url($path, $o{port}),
                             $o{headers} ? { headers => $o{headers} } : {});
    BarHls::Checker::test_response($res->{url}, $res->{status}, $res->{content})
        if $method eq 'GET';
    return $res;
}

# Calls $cond every $step seconds until it returns true or $secs passed;
# returns its last value.
sub wait_until {
    my ($secs, $step, $cond) = @_;
    my $deadline = time + $secs;
    for (my $i = 0; $i < 100_000; $i++) {
        my $res = $cond->();
        return $res if $res || time >= $deadline;
        sleep $step;
    }
    return;
}

# Polls the playlist until it lists at least $min segments (and, with
# $cond, until $cond->($playlist_text) is true too).  Returns the playlist
# text, or undef after $timeout seconds ($LastStatus tells what was seen).
sub wait_for_playlist {
    my ($path, $min, $timeout, $cond) = @_;
    $min //= 1;
    $LastStatus = 'no response';
    return wait_until($timeout // 15, 0.2, sub {
        my $res = http_get($path);
        my $body = $res->{content} // '';
        my $n = () = $body =~ /^seg-\d+\.m4s$/mg;
        $LastStatus = "$res->{status}, $n segment(s): $body";
        return unless $res->{status} == 200 && $n >= $min;
        return if $cond && !$cond->($body);
        return $body;
    });
}

# Test::More::ok() around wait_for_playlist(), for --- init sections.
sub wait_playlist_ok {
    my ($path, $min, $timeout, $cond) = @_;
    my $t0 = time;
    my $pl = wait_for_playlist($path, $min, $timeout, $cond);
    Test::More::ok($pl, sprintf '%s lists >= %d segment(s) within %ds (%.1fs)',
                   $path, $min, $timeout, time - $t0)
        or Test::More::diag("last seen: $LastStatus");
    return $pl;
}

# ------------------------------------------------------------ playlists

# { version, target, sequence, disc_sequence, independent,
#   segments => [{ msn, uri, duration, pdt (epoch seconds), map,
#   discontinuity }], tags => [all #EXT lines] }, or undef if not a playlist
sub parse_playlist {
    my ($text) = @_;
    return unless defined $text && $text =~ /\A#EXTM3U\n/;
    my %pl = (segments => [], tags => []);
    my %next;
    for my $line (split /\n/, $text) {
        if ($line =~ /^#/) {
            push @{ $pl{tags} }, $line;
        }
        if ($line =~ /^#EXT-X-VERSION:(\d+)$/) { $pl{version} = $1 }
        elsif ($line =~ /^#EXT-X-TARGETDURATION:(\d+)$/) { $pl{target} = $1 }
        elsif ($line =~ /^#EXT-X-MEDIA-SEQUENCE:(\d+)$/) { $pl{sequence} = $1 }
        elsif ($line =~ /^#EXT-X-DISCONTINUITY-SEQUENCE:(\d+)$/) { $pl{disc_sequence} = $1 }
        elsif ($line eq '#EXT-X-INDEPENDENT-SEGMENTS') { $pl{independent} = 1 }
        elsif ($line eq '#EXT-X-DISCONTINUITY') { $next{discontinuity} = 1 }
        elsif ($line =~ /^#EXT-X-MAP:URI="([^"]+)"$/) { $pl{map} = $1 }
        elsif ($line =~ /^#EXT-X-PROGRAM-DATE-TIME:(.+)$/) { $next{pdt_text} = $1; $next{pdt} = parse_pdt($1) }
        elsif ($line =~ /^#EXTINF:([\d.]+),/) { $next{duration} = $1; $next{extinf} = $line }
        elsif ($line =~ /^[^#]/) {
            my %seg = (%next, uri => $line, map => $pl{map});
            $seg{msn} = $1 if $line =~ /^seg-(\d+)\.m4s$/;
            push @{ $pl{segments} }, \%seg;
            %next = ();
        }
    }
    return \%pl;
}

# Media sequence numbers of the segments a playlist lists.
sub playlist_msns {
    my $pl = parse_playlist($_[0]) or return;
    return map { $_->{msn} } grep { defined $_->{msn} } @{ $pl->{segments} };
}

# Waits until $path's EXT-X-MEDIA-SEQUENCE is at least $advance above the
# one first seen (the playlist listing >= $min segments); returns the
# playlist text and stores the first sequence seen in $Stash{seq0}.
sub wait_sequence_ok {
    my ($path, $advance, $timeout, $min) = @_;
    my $t0 = time;
    my $pl = wait_for_playlist($path, 1, $timeout);
    my $seq0 = $pl && parse_playlist($pl)->{sequence};
    $Stash{seq0} = $seq0;
    my $left = $timeout - (time - $t0);
    $pl = defined $seq0 && $left > 0 && wait_for_playlist($path, $min // 1, $left, sub {
        my $p = parse_playlist($_[0]);
        return defined $p->{sequence} && $p->{sequence} >= $seq0 + $advance;
    });
    Test::More::ok($pl, sprintf '%s: EXT-X-MEDIA-SEQUENCE advanced by %d within %ds (%.1fs)',
                   $path, $advance, $timeout, time - $t0)
        or Test::More::diag("first sequence: " . ($seq0 // 'none') . "; last seen: $LastStatus");
    return $pl;
}

# "2026-11-25T09:08:00.614Z" -> epoch seconds (fractional), or undef
sub parse_pdt {
    my ($s) = @_;
    my ($y, $mo, $d, $h, $mi, $sec, $ms) =
        $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/ or return;
    require Time::Local;
    return Time::Local::timegm($sec, $mi, $h, $d, $mo - 1, $y) + $ms / 1000;
}

# Runs the structural checks every playlist this module serves must pass
# (as Test::More tests named "$name - ...").  %o: min (segments),
# max (segments), target (seconds), extinf (seconds, "2.000") give or take
# tolerance (seconds, default 0.001); camera (a camera started with
# record => 1, by its port or the env var holding it) with segment (the
# camera's segment= in seconds, default target): every EXTINF is one of
# the camera's GOPs as it sent them, cut as the module cuts.
sub check_playlist {
    my ($name, $text, %o) = @_;
    my $pl = parse_playlist($text);
    Test::More::ok($pl, "$name - playlist starts with #EXTM3U")
        or return;
    my @segs = @{ $pl->{segments} };
    my $n = @segs;
    if (grep { /^#EXT-X-PART-INF:/ } @{ $pl->{tags} }) {
        # Low-Latency HLS (EXT-X-SKIP and friends) needs version 9
        Test::More::ok(($pl->{version} // 0) >= 9, "$name - EXT-X-VERSION >= 9 with LL-HLS tags");
    } else {
        Test::More::is($pl->{version}, 7, "$name - EXT-X-VERSION:7");
    }
    Test::More::ok($pl->{independent}, "$name - EXT-X-INDEPENDENT-SEGMENTS");
    Test::More::ok(defined $pl->{target} && $pl->{target} >= 1,
                   "$name - EXT-X-TARGETDURATION present");
    Test::More::is($pl->{target}, $o{target}, "$name - EXT-X-TARGETDURATION:$o{target}")
        if defined $o{target};
    Test::More::ok($n >= ($o{min} // 1), "$name - at least " . ($o{min} // 1)
                   . " segment(s) listed (got $n)");
    if (defined $o{max}) {
        # more than the window only while the window's newest segments last
        # less than three target durations (RFC 8216bis 6.2.2: a camera's
        # key frame a little early makes a segment short)
        my $newest = 0;
        $newest += $_->{duration} // 0 for @segs[($n > $o{max} ? $n - $o{max} : 0) .. $#segs];
        my $short = $n > $o{max} && defined $pl->{target} && $newest < 3 * $pl->{target};
        Test::More::ok($n <= $o{max} || $short,
                       "$name - at most $o{max} segments listed (got $n"
                       . ($short ? sprintf(', the newest %d last %.3f s, under 3 target durations',
                                           $o{max}, $newest) : '') . ')');
    }
    return $pl unless $n;

    Test::More::is($pl->{sequence}, $segs[0]{msn},
                   "$name - EXT-X-MEDIA-SEQUENCE is the first segment's number");
    my @bad = grep { !defined $segs[$_]{msn} || $segs[$_]{msn} != $segs[0]{msn} + $_ } 0 .. $#segs;
    Test::More::ok(!@bad, "$name - segments are seg-<msn>.m4s with consecutive numbers")
        or Test::More::diag(join ' ', map $_->{uri}, @segs);
    Test::More::ok(!(grep { !defined $_->{map} || $_->{map} !~ /^init-[0-9a-z]+\.mp4$/ } @segs),
                   "$name - every segment has an EXT-X-MAP init-<version>.mp4");
    Test::More::ok(!(grep { !defined $_->{pdt} } @segs),
                   "$name - every segment has an EXT-X-PROGRAM-DATE-TIME ...Z");
    Test::More::ok(!(grep { !defined $_->{duration} || $_->{duration} <= 0
                           || int($_->{duration} + 0.5) > $pl->{target} } @segs),
                   "$name - every EXTINF is > 0 and rounds to <= the target");
    my ($cam, $spans);
    if (defined $o{camera}) {
        # the segments are the camera's GOPs, cut at the segment target
        $cam = camera_on_port($o{camera})
            or die "check_playlist: no camera on $o{camera}\n";
        require BarHls::Timing;
        my $seg = $o{segment} // $o{target};
        # first=todo: the first listed segment may be the session's first,
        # which has a known defect with B-frames: it is checked on its
        # own, as a TODO, the others as always
        if (($o{first} // '') eq 'todo' && $n >= 2) {
            my $builder = Test::More->builder;
            $builder->todo_start('the first segment of a session with B-frames can last '
                . 'the reordering delay longer than the camera sent (seen: 2.267 s for 2 GOPs '
                . 'of 1.000 s, 4 frames of 3-B-frame H.264 at 15 fps), under load');
            BarHls::Timing::camera_segments_ok("$name - the session's first segment", $cam,
                                               { %$pl, segments => [$segs[0]] }, segment => $seg);
            $builder->todo_end;
            $spans = BarHls::Timing::camera_segments_ok($name, $cam,
                                                        { %$pl, segments => [@segs[1 .. $#segs]] },
                                                        segment => $seg);
        } else {
            $spans = BarHls::Timing::camera_segments_ok($name, $cam, $pl, segment => $seg);
        }
    }
    if (defined $o{extinf}) {
        # within a millisecond: the module truncates microseconds, so a
        # 1999999 us segment says 1.999
        my $tol = $o{tolerance} // 0.001;
        my @other = grep { $_->{extinf} !~ /^#EXTINF:\d+\.\d{3},$/
                           || abs($_->{duration} - $o{extinf}) > $tol + 1e-6 } @segs;
        Test::More::ok(!@other, "$name - every EXTINF is $o{extinf} (+-${tol}s)")
            or Test::More::diag(join "\n", map $_->{extinf}, @other);
    }
    # PROGRAM-DATE-TIME is the wall clock at which the camera's frames
    # reach nginx, carried by the media clock (README, bh_timeline.c).
    # With a recorder (the segments matched to the camera's keyframes),
    # consecutive PDTs must be their EXTINFs apart, give or take
    # $PdtTolerance; without one, a
    # camera that falls behind and catches up (x264 under load, a camera
    # resumed after SIGSTOP: seen 4 s late, then keyframes 0.1 s apart)
    # moves arrivals by seconds, so then PDTs must not go back, and over
    # the whole run they must follow the EXTINFs within $PdtDrift.
    my (@gaps, @steps);
    my @run = (0);
    for my $i (1 .. $#segs) {
        my ($a, $b) = @segs[$i - 1, $i];
        if ($b->{discontinuity}) {
            @run = ($i);
            next;
        }
        push @run, $i;
        next unless defined $a->{pdt} && defined $b->{pdt};
        my $step = $b->{pdt} - $a->{pdt};
        my ($sa, $sb) = $spans ? ($spans->{ $a->{uri} }, $spans->{ $b->{uri} }) : ();
        if ($sa && $sb) {
            # the media clock: a step is the EXTINF before it, but for
            # sub-second moves towards the earliest arrivals.  The arrivals
            # at the recorder are printed, not compared: a recorder starved
            # by a loaded machine was seen 6 s late, then catching up.
            my $w = BarHls::Timing::camera_frames($cam)->{wall};
            my $arrived = $w->{ $sb->[0] } - $w->{ $sa->[0] };
            push @steps, sprintf '%.2f/%.3f/%.2f', $step, $a->{duration}, $arrived;
            push @gaps, sprintf('%s -> %s: %.3fs, its EXTINF %.3fs', $a->{uri}, $b->{uri}, $step,
                                $a->{duration})
                if abs($step - $a->{duration}) > $PdtTolerance;
            next;
        }
        push @steps, sprintf '%.2f', $step;
        push @gaps, sprintf('%s -> %s: %.3fs: backwards', $a->{uri}, $b->{uri}, $step) if $step < -0.05;
        my $first = $segs[ $run[0] ];
        my $sum = 0;
        $sum += $segs[$_]{duration} for @run[0 .. $#run - 1];
        my $span = $b->{pdt} - $first->{pdt};
        push @gaps, sprintf('%s -> %s: %.3fs apart, their EXTINFs add up to %.3fs', $first->{uri}, $b->{uri},
                            $span, $sum)
            if abs($span - $sum) > $PdtDrift;
    }
    Test::More::ok(!@gaps, "$name - PROGRAM-DATE-TIMEs follow the arrivals ("
                   . ($spans ? 'PDT step/EXTINF/arrival step at the recorder' : 'steps') . ": @steps s)")
        or Test::More::diag(join("\n", @gaps) . "\nthe playlist:\n$text");
    my $age = defined $segs[-1]{pdt} ? time - $segs[-1]{pdt} : undef;
    Test::More::ok(defined $age && $age > -2 && $age < 60,
                   "$name - the newest PROGRAM-DATE-TIME is about now ("
                   . (defined $age ? sprintf('%.1fs ago', $age) : 'none') . ')');
    return $pl;
}

# -------------------------------------------------------------- ffmpeg

sub run_cmd {
    my ($cmd, $timeout) = @_;
    my ($out, $err) = ('', '');
    # ffmpeg honours http_proxy: requests must go straight to 127.0.0.1
    local @ENV{qw(http_proxy HTTP_PROXY all_proxy ALL_PROXY)};
    delete @ENV{qw(http_proxy HTTP_PROXY all_proxy ALL_PROXY)};
    my $ok = eval {
        IPC::Run::run($cmd, '<', \undef, '>', \$out, '2>', \$err,
                      IPC::Run::timeout($timeout));
        1;
    };
    return (-1, $out, "$err\n(timed out after ${timeout}s: $@)") unless $ok;
    return ($? >> 8, $out, $err);
}

# The streams ffprobe finds at $path (arrayref of hashrefs), or undef.
sub ffprobe_streams {
    my ($path, $timeout) = @_;
    my ($rc, $out, $err) = run_cmd(['ffprobe', '-v', 'error', '-show_streams',
                                    '-of', 'json', nginx_url($path)],
                                   $timeout // 20);
    if ($rc != 0) {
        Test::More::diag("ffprobe $path: exit $rc: $err");
        return;
    }
    my $json = eval { JSON::PP::decode_json($out) };
    return $json ? $json->{streams} : undef;
}

# Decodes $secs seconds of $path; returns (exit code, stderr).
sub ffmpeg_decode {
    my ($path, $secs, $timeout) = @_;
    my ($rc, undef, $err) = run_cmd(['ffmpeg', '-nostdin', '-v', 'error',
                                     '-i', nginx_url($path), '-t', $secs,
                                     '-f', 'null', '-'],
                                    $timeout // $secs + 20);
    return ($rc, $err);
}

# Fetches "$dir/$map" (init segment) and "$dir/$seg", probes them as one
# file: { rc, err, video => packets, audio => packets, first_key => 0|1,
# streams => [ffprobe streams] }.
sub probe_segment {
    my ($dir, $map, $seg) = @_;
    my $init = http_get("$dir/$map");
    my $media = http_get("$dir/$seg");
    my $file = File::Spec->catfile(tmp_dir(), "probe-$$.mp4");
    open my $fh, '>', $file or die "$file: $!";
    binmode $fh;
    print $fh $init->{content} // '', $media->{content} // '';
    close $fh;
    my ($rc, $out, $err) = run_cmd(
        ['ffprobe', '-v', 'error', '-count_packets', '-show_entries',
         'stream=codec_type,codec_name,width,height,nb_read_packets'
         . ':frame=key_frame,media_type', '-of', 'json', $file], 30);
    my $json = eval { JSON::PP::decode_json($out) };
    if (!$json) {
        # (an answer ffprobe cannot describe must not look like an empty one)
        $err .= sprintf "ffprobe output is not JSON (%d bytes: %.200s); init %s %d bytes, %s %s %d bytes",
                        length $out, $out, $init->{status}, length($init->{content} // ''),
                        $seg, $media->{status}, length($media->{content} // '');
        $json = {};
        rename $file, "$file.bad" if $ENV{BAR_HLS_TEST_KEEP};
    }
    unlink $file;
    my %r = (rc => $rc, err => $err, streams => $json->{streams} || [],
             init_status => $init->{status}, status => $media->{status});
    $r{$_->{codec_type}} = $_->{nb_read_packets} for @{ $r{streams} };
    my ($first) = grep { ($_->{media_type} // '') eq 'video' } @{ $json->{frames} || [] };
    $r{first_key} = $first ? $first->{key_frame} : undef;
    return \%r;
}

# ----------------------------------------------------------------- MP4

# Top-level ISO BMFF boxes of $data: ([type, size], ...); a box that does
# not fit is returned as ['<truncated>', remaining bytes] and ends the list.
sub mp4_boxes {
    my ($data) = @_;
    my @boxes;
    my ($pos, $len) = (0, length($data // ''));
    while ($pos < $len) {
        if ($len - $pos < 8) {
            push @boxes, ['<truncated>', $len - $pos];
            last;
        }
        my ($size, $type) = unpack 'N a4', substr($data, $pos, 8);
        if ($size == 1) {
            last if $len - $pos < 16;
            my ($hi, $lo) = unpack 'N N', substr($data, $pos + 8, 8);
            $size = $hi * 4294967296 + $lo;
        } elsif ($size == 0) {
            $size = $len - $pos;
        }
        if ($size < 8 || $pos + $size > $len) {
            push @boxes, ['<truncated>', $len - $pos];
            last;
        }
        push @boxes, [$type, $size];
        $pos += $size;
    }
    return @boxes;
}

# "ftyp moov" style list of the top-level box types
sub box_types { join ' ', map { $_->[0] } mp4_boxes($_[0]) }

sub md5_hex { Digest::MD5::md5_hex($_[0] // '') }

# ----------------------------------------------------------- error log

sub error_log_path {
    return File::Spec->catfile($ENV{TEST_NGINX_SERVER_ROOT} // "$Root/t/servroot",
                               'logs', 'error.log');
}

# (dies when there is no error.log to read: checks of what it holds must
# not pass without it)
sub error_log_lines {
    my $text = slurp(error_log_path());
    die 'BarHls::Test: cannot read ' . error_log_path() . ": $!\n" unless defined $text;
    return split /^/, $text;
}

# The number of lines error.log has now: wait_for_log(..., $mark) only
# looks at the lines written after that.
sub error_log_mark { return scalar(my @l = error_log_lines()) }

# Waits until a line of error.log (after line $mark, if given) matches $re;
# returns that line or undef.
sub wait_for_log {
    my ($re, $timeout, $mark) = @_;
    return wait_until($timeout // 10, 0.1, sub {
        my @lines = error_log_lines();
        splice @lines, 0, $mark if $mark;
        for (@lines) { return $_ if $_ =~ $re }
        return;
    });
}

# ESTABLISHED TCP connections whose local port is $port (the camera's side
# of its RTSP connections), straight from the kernel: unlike the camera's
# own count, it drops the moment the peer closes.
sub tcp_established {
    my ($port) = @_;
    return scalar keys %{ tcp_connections($port, 'local') };
}

# The ESTABLISHED TCP connections whose $side ('local' or 'remote') port
# is $port: { "local remote" (in /proc's hex) => socket inode }.  Keyed by
# the connection: /proc/net/tcp is read in chunks, not as one snapshot.
sub tcp_connections {
    my ($port, $side) = @_;
    my $f = $side eq 'local' ? 1 : 2;
    my %seen;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $file or next;
        while (my $line = <$fh>) {
            my @c = split ' ', $line;
            next unless defined $c[9] && $c[3] eq '01';
            $seen{"$c[1] $c[2]"} = $c[9] if $c[$f] =~ /:([0-9A-F]{4})$/ && hex($1) == $port;
        }
    }
    return \%seen;
}

# Samples tcp_established($port) for each port every 10 ms, for $secs
# seconds or until $until->() is true (then one more second); returns
# { port => the most seen at once }.
sub max_established {
    my ($ports, $secs, $until) = @_;
    my %max = map { $_ => 0 } @$ports;
    my ($deadline, $stop) = (time + $secs);
    while (time < $deadline) {
        for my $port (@$ports) {
            my $n = tcp_established($port);
            $max{$port} = $n if $n > $max{$port};
        }
        if (!$stop && $until && $until->()) {
            $stop = time + 1;
            $deadline = $stop if $stop < $deadline;
        }
        sleep 0.01;
    }
    return \%max;
}

sub nginx_master_pid {
    my $pid = slurp(File::Spec->catfile($ENV{TEST_NGINX_SERVER_ROOT}, 'logs', 'nginx.pid'));
    return $pid && $pid =~ /^(\d+)/ ? $1 : undef;
}

# Block preprocessor (add_block_preprocessor(\&default_log_checks)): every
# block also checks that error.log has no [alert] or [crit] line, no
# [emerg] (but in must_die blocks) and never the cameras' password.
sub default_log_checks {
    my ($block) = @_;
    my @add = ('[alert]', '[crit]', $PASSWORD);
    push @add, '[emerg]' unless defined $block->must_die;
    my $wanted = $block->error_log;
    my $have = $block->no_error_log;
    my @pats = !defined $have ? ()
             : ref $have eq 'ARRAY' ? @$have
             : ref $have ? ($have)
             : grep { length } split /\n+/, $have;
    for my $pat (@add) {
        next if grep { !ref $_ && $_ eq $pat } @pats;
        # a block that expects the line in error_log must not forbid it
        next if defined $wanted && grep { !ref $_ && index($_, $pat) >= 0 }
                                   (ref $wanted eq 'ARRAY' ? @$wanted : ref $wanted ? () : $wanted);
        push @pats, $pat;
    }
    $block->set_value(no_error_log => \@pats);
}

# Response body check for add_response_body_check(\&check_body): custom
# block sections
#   --- bar_playlist: min=3 max=6 target=2 extinf=2.000 [tolerance=0.05]
#   --- bar_playlist: min=3 target=2 camera=TEST_NGINX_CAM_PORT [segment=1]
#                     [first=todo] (see check_playlist)
#   --- bar_boxes_like: ^ftyp moov$   (regex on the top-level box types)
#   --- bar_same_as: /live/ale/init.mp4   (another URL, identical bytes)
#   --- bar_check: foo bar   (calls main::check_foo($block, $body), ...)
sub check_body {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    return if $dry_run;
    BarHls::Checker::test_body($block, $body, $req_idx);
    my $name = $block->name;
    if (defined(my $checks = $block->bar_check)) {
        for my $check (split ' ', $checks) {
            my $code = main->can("check_$check")
                or die "$name: no sub main::check_$check for --- bar_check\n";
            $code->($block, $body);
        }
    }
    if (defined(my $spec = $block->bar_playlist)) {
        my %o = $spec =~ /(\w+)=(\S+)/g;
        check_playlist("$name - bar_playlist", $body, %o);
    }
    if (defined(my $re = $block->bar_boxes_like)) {
        $re =~ s/^\s+|\s+$//g;
        Test::More::like(box_types($body), qr/$re/, "$name - bar_boxes_like");
    }
    if (defined(my $path = $block->bar_same_as)) {
        $path =~ s/^\s+|\s+$//g;
        my $res = http_get($path);
        Test::More::is($res->{status}, 200, "$name - bar_same_as $path: 200");
        Test::More::ok(length($body // '') > 0 && md5_hex($res->{content}) eq md5_hex($body),
                       "$name - bar_same_as $path: identical bytes ("
                       . length($body // '') . ' vs ' . length($res->{content} // '') . ')');
    }
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return;
    binmode $fh;
    local $/;
    return scalar <$fh>;
}

# ------------------------------------------------------ hostile cameras

# start_hostile_camera(mode => 'flood', env => 'TEST_NGINX_FLOOD_PORT',
#                      seed => 1, audio => 'aac', sprop => 'yes'|'no',
#                      after => SECS, rate => MBIT, giant_mb => N,
#                      giant_every => SECS, args => [more options],
#                      wait => 60)
# Starts t/tools/hostile-camera (an RTSP server on 127.0.0.1 sending
# crafted media, see its header) on a free port unless given; returns once
# it listens (its clip is made with ffmpeg first, and cached for the
# others in this test file).  stop_camera() stops it; hostile_stats() reads
# its --stats line.
sub start_hostile_camera {
    my (%o) = @_;
    my $port = $o{port} // free_port();
    my $mode = $o{mode} // 'healthy';
    my $n = @Cameras;
    my $dir = File::Spec->catdir(tmp_dir(), "hostile$n-$mode-$port");
    File::Path::make_path($dir);
    my %cam = (
        port    => $port,
        dir     => $dir,
        pidfile => "$dir/pid",
        stats   => "$dir/stats",
        log     => "$dir/camera.log",
        mode    => $mode,
        opts    => {%o},
        probes  => 0,
    );
    my @cmd = ("$Root/t/tools/hostile-camera", '--port', $port,
               '--mode', $mode, '--pidfile', $cam{pidfile},
               '--stats', $cam{stats}, '--log', $cam{log},
               '--media-dir', File::Spec->catdir(tmp_dir(), 'hostile-media'));
    for my $opt (qw(seed audio sprop after rate giant_mb giant_every)) {
        (my $flag = $opt) =~ tr/_/-/;
        push @cmd, "--$flag", $o{$opt} if defined $o{$opt};
    }
    push @cmd, @{ $o{args} } if $o{args};

    unlink $cam{pidfile}, $cam{stats};
    my $pid = fork;
    die "BarHls::Test: fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        my $prctl = $Config::Config{archname} =~ /^x86_64-linux/ ? 157
                  : $Config::Config{archname} =~ /^aarch64-linux/ ? 167 : undef;
        syscall($prctl, 1, 15) if defined $prctl;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/stderr.log";
        open STDERR, '>&', \*STDOUT;
        { exec @cmd };
        print STDERR "exec @cmd: $!\n";
        POSIX::_exit(127);
    }
    $cam{pid} = $pid;
    push @Cameras, \%cam;

    my $wait = $o{wait} // 60;
    my $up = wait_until($wait, 0.05, sub {
        return -1 if waitpid($pid, WNOHANG) == $pid;
        return -s $cam{pidfile} ? 1 : 0;
    });
    if (!$up || $up < 0) {
        my $why = !$up ? "did not listen within ${wait}s" : 'exited';
        my $log = join '', map { slurp($_) // '' } $cam{log}, "$dir/stderr.log";
        stop_camera(\%cam);
        die "BarHls::Test: hostile camera ($mode) on port $port $why:\n$log";
    }
    $ENV{$o{env}} = $port if $o{env};
    return \%cam;
}

push @EXPORT, qw(start_hostile_camera hostile_stats);

# {current, max, total, sessions, bytes, packets} of a hostile camera
sub hostile_stats {
    my ($cam) = @_;
    my %s = (slurp($cam->{stats}) // '') =~ /(\w+)=(\d+)/g;
    return \%s;
}

# ------------------------------------------------------- sanitizers

# Under scripts/test-asan (BAR_HLS_SANITIZER_DIR set), the sanitizers of
# the nginx under test write their reports into a directory of this test
# file's own, <dir>/<test file>/san.<pid>, for scripts/sanitizer-scan to
# name the file a report came from.  nginx inherits ASAN_OPTIONS and
# UBSAN_OPTIONS from us.
if (my $san = $ENV{BAR_HLS_SANITIZER_DIR}) {
    (my $name = File::Basename::basename($0)) =~ s/\.t$//;
    $name =~ s/[^A-Za-z0-9_.-]/_/g;
    my $dir = File::Spec->catdir($san, $name || 'unnamed');
    File::Path::make_path($dir);
    for my $var (qw(ASAN_OPTIONS UBSAN_OPTIONS)) {
        my $opts = $ENV{$var} // '';
        $opts =~ s/(?:^|:)log_path=[^:]*//g;
        $opts =~ s/^://;
        $ENV{$var} = join ':', grep { length } $opts, "log_path=$dir/san";
    }
}

1;
